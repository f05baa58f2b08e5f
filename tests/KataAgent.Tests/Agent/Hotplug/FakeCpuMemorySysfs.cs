using KataAgent.Tests.Infrastructure;

namespace KataAgent.Tests.Agent.Hotplug;

/// <summary>
/// devices/system/cpu and devices/system/memory in a temp directory, with a task that plays the
/// kernel: it keeps cpu/online (the list) in step with each cpuN/online file the agent writes, as the
/// real one does. cpu0 has no online file, as on x86, where the boot CPU cannot go offline.
/// </summary>
public sealed class FakeCpuMemorySysfs : IDisposable
{
    private readonly TempDirectory _directory = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _kernel;

    public FakeCpuMemorySysfs(int onlineCpus, int offlineCpus, int onlineBlocks = 0, int offlineBlocks = 0, bool probe = false)
    {
        Directory.CreateDirectory(Path.Combine(CpuDirectory, "cpu0"));
        for (int cpu = 1; cpu < onlineCpus + offlineCpus; cpu++)
        {
            AddCpu(cpu, online: cpu < onlineCpus);
        }
        Directory.CreateDirectory(MemoryDirectory);
        File.WriteAllText(Path.Combine(MemoryDirectory, "block_size_bytes"), "8000000\n");
        File.WriteAllText(Path.Combine(MemoryDirectory, "auto_online_blocks"), "offline\n");
        for (int block = 0; block < onlineBlocks + offlineBlocks; block++)
        {
            AddMemoryBlock(block, online: block < onlineBlocks);
        }
        if (probe)
        {
            File.WriteAllText(ProbeFile, "");
        }
        Sync();
        _kernel = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                Sync();
                await Task.Delay(10);
            }
        });
    }

    public string Root => _directory.Path;

    public string CpuDirectory => Path.Combine(Root, "devices", "system", "cpu");

    public string MemoryDirectory => Path.Combine(Root, "devices", "system", "memory");

    public string ProbeFile => Path.Combine(MemoryDirectory, "probe");

    /// <summary>A hot-plugged CPU reaching sysfs, offline unless <paramref name="online"/>.</summary>
    public void AddCpu(int cpu, bool online = false)
    {
        string directory = Path.Combine(CpuDirectory, $"cpu{cpu}");
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "online"), online ? "1\n" : "0\n");
    }

    public void AddMemoryBlock(int block, bool online = false)
    {
        string directory = Path.Combine(MemoryDirectory, $"memory{block}");
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "online"), online ? "1\n" : "0\n");
        File.WriteAllText(Path.Combine(directory, "state"), online ? "online\n" : "offline\n");
    }

    /// <summary>What a memory block's state file says ("online_movable" once the agent onlined it movable).</summary>
    public string BlockState(int block) => File.ReadAllText(Path.Combine(MemoryDirectory, $"memory{block}", "state")).Trim();

    public bool CpuOnline(int cpu) => File.ReadAllText(Path.Combine(CpuDirectory, $"cpu{cpu}", "online")).Trim() == "1";

    public bool BlockOnline(int block) =>
        File.ReadAllText(Path.Combine(MemoryDirectory, $"memory{block}", "online")).Trim() == "1"
        || BlockState(block) is "online" or "online_movable";

    /// <summary>What cpu/online says now.</summary>
    public string OnlineList => File.ReadAllText(Path.Combine(CpuDirectory, "online")).Trim();

    private void Sync()
    {
        // The kernel keeps memoryN/online in step with memoryN/state.
        foreach (string directory in Directory.GetDirectories(MemoryDirectory, "memory*"))
        {
            string state = Path.Combine(directory, "state");
            if (File.Exists(state) && File.ReadAllText(state).Trim() is "online" or "online_movable")
            {
                File.WriteAllText(Path.Combine(directory, "online"), "1\n");
            }
        }
        var online = new List<int> { 0 };
        foreach (string directory in Directory.GetDirectories(CpuDirectory, "cpu*"))
        {
            string file = Path.Combine(directory, "online");
            if (int.TryParse(Path.GetFileName(directory)[3..], out int cpu) && cpu > 0 && File.Exists(file) && File.ReadAllText(file).Trim() == "1")
            {
                online.Add(cpu);
            }
        }
        string text = string.Join(',', online.Order()) + "\n";
        string path = Path.Combine(CpuDirectory, "online");
        string temporary = path + ".new";
        File.WriteAllText(temporary, text);
        File.Move(temporary, path, overwrite: true);
    }

    public void Dispose()
    {
        _stop.Cancel();
        try
        {
            _kernel.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
        _directory.Dispose();
        _stop.Dispose();
    }
}
