using System.Diagnostics;
using System.Globalization;
using System.Text;
using KataAgent.Agent.Config;
using KataAgent.Agent.Errors;
using KataAgent.Agent.Interop;
using KataAgent.Linux.Interop;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Guest.Hotplug;

/// <summary>
/// CPUs and memory the host hot-plugs, brought online through sysfs as Kata's agent does.
/// <para>OnlineCPUMem: with <c>nb_cpus</c> N &gt; 0, offline CPUs (cpuK/online reads 0) are onlined,
/// lowest first, until N CPUs are online in all (the count in cpu/online; the meaning Kata's agent and
/// runtime-rs give the field), retrying every 50 ms because a hot-plugged CPU reaches sysfs a moment
/// after the VMM's device_add returns. Unless <c>cpu_only</c>, every offline memory block (memoryK/online)
/// is onlined too (movable, so that the host can unplug it again), and memory/auto_online_blocks is switched to
/// online_movable, so blocks a DIMM brings after the call come online by themselves (as in Kata's guest kernels). With <c>wait</c> the call returns once that is done, or fails with DEADLINE_EXCEEDED
/// after <see cref="Deadline"/> naming what is still offline; without it one pass is made at once and the
/// rest goes on in the background (the proto's meaning; Kata's agent always waits).</para>
/// <para>MemHotplugByProbe: each address is written to memory/probe (architectures without ACPI memory
/// hot-plug); a kernel without that file is FAILED_PRECONDITION naming it.</para>
/// The sysfs root is injectable, so tests play the kernel in a temp directory.
/// </summary>
public sealed partial class GuestHotplug
{
    /// <summary>How often the state is looked at again while waiting (Kata's 50 ms).</summary>
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);

    private readonly string _cpuDirectory;
    private readonly string _memoryDirectory;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>For the agent: sysfs from the config, the deadline the larger of Kata's 5 s and agent.hotplug_timeout.</summary>
    public GuestHotplug(AgentConfig config, ILogger<GuestHotplug> logger)
        : this(config.SysfsRoot, config.HotplugTimeout > TimeSpan.FromSeconds(5) ? config.HotplugTimeout : TimeSpan.FromSeconds(5), logger)
    {
    }

    public GuestHotplug(string sysfsRoot, TimeSpan deadline, ILogger logger)
    {
        _cpuDirectory = Path.Combine(sysfsRoot, "devices", "system", "cpu");
        _memoryDirectory = Path.Combine(sysfsRoot, "devices", "system", "memory");
        Deadline = deadline;
        _logger = logger;
    }

    /// <summary>How long OnlineCPUMem waits for CPUs and memory to come online.</summary>
    public TimeSpan Deadline { get; }

    /// <summary>memory/probe.</summary>
    public string ProbeFile => Path.Combine(_memoryDirectory, "probe");

    /// <summary>
    /// OnlineCPUMem. Returns when everything asked for is online (<paramref name="wait"/>), or after one
    /// pass with the rest left to a background task.
    /// </summary>
    public async Task OnlineAsync(uint cpus, bool cpuOnly, bool wait, CancellationToken cancellationToken)
    {
        if (cpus == 0 && cpuOnly)
        {
            return;
        }
        if (!Directory.Exists(_cpuDirectory))
        {
            throw AgentException.FailedPrecondition(null, $"{_cpuDirectory} does not exist; is sysfs mounted?");
        }
        if (wait)
        {
            await OnlineUntilDoneAsync(cpus, cpuOnly, cancellationToken).ConfigureAwait(false);
            return;
        }
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        bool done;
        try
        {
            done = Pass(cpus, cpuOnly, out _);
        }
        finally
        {
            _gate.Release();
        }
        if (!done)
        {
            _ = Task.Run(async () =>
            {
                try
                {
                    await OnlineUntilDoneAsync(cpus, cpuOnly, CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception e)
                {
                    _logger.LogWarning("OnlineCPUMem (not waited for): {Error}", e.Message);
                }
            }, CancellationToken.None);
        }
    }

    /// <summary>MemHotplugByProbe: each address, in order, to memory/probe.</summary>
    public void Probe(IReadOnlyList<ulong> addresses)
    {
        const string field = "memHotplugProbeAddr";
        if (addresses.Count == 0)
        {
            throw AgentException.InvalidArgument(field, "is empty; no memory to probe");
        }
        if (!File.Exists(ProbeFile))
        {
            throw AgentException.FailedPrecondition(field, $"this kernel has no {ProbeFile} (CONFIG_ARCH_MEMORY_PROBE); memory is hot-plugged through ACPI here, and OnlineCPUMem onlines it");
        }
        ulong blockSize = ReadBlockSize();
        for (int i = 0; i < addresses.Count; i++)
        {
            if (blockSize > 0 && addresses[i] % blockSize != 0)
            {
                throw AgentException.InvalidArgument($"{field}[{i}]", $"0x{addresses[i]:x} is not a multiple of the memory block size 0x{blockSize:x}");
            }
        }
        for (int i = 0; i < addresses.Count; i++)
        {
            // Kata writes "{:#X}": 0x and upper-case digits; the kernel parses it with kstrtoull(…, 0).
            string text = "0x" + addresses[i].ToString("X", CultureInfo.InvariantCulture);
            try
            {
                WriteSysfs(ProbeFile, text);
            }
            catch (LinuxException e) when (e.Errno is Errno.EEXIST or Errno.EINVAL)
            {
                throw e.Errno == Errno.EEXIST
                    ? AgentException.AlreadyExists($"{field}[{i}]", $"the memory at {text} is already present ({e.Message})")
                    : AgentException.InvalidArgument($"{field}[{i}]", $"the kernel refused {text} ({e.Message})");
            }
            _logger.LogInformation("probed hot-plugged memory at {Address}", text);
        }
    }

    private async Task OnlineUntilDoneAsync(uint cpus, bool cpuOnly, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            string missing;
            await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (Pass(cpus, cpuOnly, out missing))
                {
                    return;
                }
            }
            finally
            {
                _gate.Release();
            }
            if (clock.Elapsed >= Deadline)
            {
                throw AgentException.DeadlineExceeded(cpus > 0 && missing.StartsWith("CPUs", StringComparison.Ordinal) ? "nb_cpus" : null,
                    $"{missing} after {Deadline.TotalSeconds:0.#} s");
            }
            await Task.Delay(PollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>One look at sysfs, onlining what is offline; true when nothing asked for is left, else <paramref name="missing"/> says what.</summary>
    private bool Pass(uint cpus, bool cpuOnly, out string missing)
    {
        var problems = new List<string>();
        if (cpus > 0)
        {
            int online = OnlineCpuCount();
            if (online < cpus)
            {
                var failures = new List<string>();
                int brought = 0;
                foreach (var (name, file) in OfflineObjects(_cpuDirectory, "cpu"))
                {
                    if (online + brought >= cpus)
                    {
                        break;
                    }
                    if (TryOnline(file, out string? error))
                    {
                        brought++;
                        _logger.LogInformation("onlined {Cpu}", name);
                    }
                    else
                    {
                        failures.Add($"{name}: {error}");
                    }
                }
                online = OnlineCpuCount();
                if (online < cpus)
                {
                    problems.Add($"CPUs: {online} of {cpus} online"
                        + (failures.Count > 0 ? $" ({string.Join("; ", failures)})" : " (no offline CPU left to online; the VMM has not hot-plugged more yet)"));
                }
            }
        }
        if (!cpuOnly && Directory.Exists(_memoryDirectory))
        {
            EnableAutoOnline();
            var failures = new List<string>();
            foreach (var (name, file) in OfflineObjects(_memoryDirectory, "memory"))
            {
                if (TryOnlineMovable(Path.Combine(Path.GetDirectoryName(file)!, "state")))
                {
                    _logger.LogInformation("onlined {Block} movable", name);
                }
                else if (TryOnline(file, out string? error))
                {
                    _logger.LogInformation("onlined {Block} (not movable: the host cannot take it back)", name);
                }
                else
                {
                    failures.Add($"{name}: {error}");
                }
            }
            if (failures.Count > 0)
            {
                problems.Add($"memory blocks still offline: {string.Join("; ", failures)}");
            }
        }
        missing = string.Join("; ", problems);
        return problems.Count == 0;
    }

    /// <summary>
    /// A DIMM's memory blocks reach sysfs a moment after the VMM's device_add returns, often after the runtime's
    /// OnlineCPUMem has looked; Kata's guest kernels online them by themselves (MEMORY_HOTPLUG_DEFAULT_ONLINE),
    /// distribution kernels such as Debian's leave them offline. Switching memory/auto_online_blocks to
    /// online_movable makes any kernel do what Kata's does, so memory that arrives late comes online too, and in
    /// ZONE_MOVABLE: only movable pages (user memory, page cache) go there, so the kernel can migrate them away and
    /// offline the blocks again when the host unplugs the DIMM (a pod shrinking in place). Memory onlined into
    /// ZONE_NORMAL fills with kernel allocations that never move, and its DIMM can then never be taken back.
    /// </summary>
    private void EnableAutoOnline()
    {
        string file = Path.Combine(_memoryDirectory, "auto_online_blocks");
        try
        {
            if (File.Exists(file) && File.ReadAllText(file).Trim() is "offline" or "online")
            {
                WriteSysfs(file, "online_movable");
                _logger.LogInformation("memory hot-plugged from now on comes online by itself ({File})", file);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _logger.LogWarning("cannot switch {File} to online: {Error}", file, e.Message);
        }
    }

    /// <summary>How many CPUs are online now (cpu/online).</summary>
    public int OnlineCpuCount()
    {
        string file = Path.Combine(_cpuDirectory, "online");
        return CpuList.Parse(File.ReadAllText(file)).Count;
    }

    /// <summary>The objects (cpuN, memoryN) whose online file reads 0, numerically ordered.</summary>
    private static IEnumerable<(string Name, string OnlineFile)> OfflineObjects(string directory, string prefix)
    {
        var found = new List<(int Number, string Name, string File)>();
        foreach (string entry in Directory.EnumerateDirectories(directory, prefix + "*"))
        {
            string name = Path.GetFileName(entry);
            if (!int.TryParse(name.AsSpan(prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out int number))
            {
                continue;
            }
            string online = Path.Combine(entry, "online");
            string state;
            try
            {
                state = File.ReadAllText(online).Trim();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue; // cpu0 on x86 has no online file: it cannot go offline.
            }
            if (state == "0")
            {
                found.Add((number, name, online));
            }
        }
        return found.OrderBy(f => f.Number).Select(f => (f.Name, f.File));
    }

    /// <summary>
    /// Onlines a memory block into ZONE_MOVABLE through its state file ("online_movable"), so that it can be offlined
    /// and unplugged later; false when the kernel refuses (a block the zone layout does not allow to be movable, or
    /// no state file), and the caller onlines it plainly.
    /// </summary>
    private static bool TryOnlineMovable(string stateFile)
    {
        try
        {
            WriteSysfs(stateFile, "online_movable");
            return true;
        }
        catch (LinuxException)
        {
            return false;
        }
    }

    private static bool TryOnline(string file, out string? error)
    {
        try
        {
            WriteSysfs(file, "1");
            error = null;
            return true;
        }
        catch (LinuxException e)
        {
            error = e.Message;
            return false;
        }
    }

    private ulong ReadBlockSize()
    {
        string file = Path.Combine(_memoryDirectory, "block_size_bytes");
        return File.Exists(file) && ulong.TryParse(File.ReadAllText(file).Trim(), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong size) ? size : 0;
    }

    /// <summary>One write(2) of the whole value, so the kernel's errno comes back as it is (File.WriteAllText would hide it).</summary>
    private static unsafe void WriteSysfs(string file, string value)
    {
        int fd = Libc.Check(Libc.Open(file, Libc.O_WRONLY | AgentLibc.O_TRUNC | Libc.O_CLOEXEC), $"open {file}");
        try
        {
            byte[] bytes = Encoding.ASCII.GetBytes(value);
            fixed (byte* p = bytes)
            {
                Libc.Check(Libc.Write(fd, p, (nuint)bytes.Length), $"write {value} to {file}");
            }
        }
        finally
        {
            Libc.Close(fd);
        }
    }
}
