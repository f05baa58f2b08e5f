using System.Text;
using KataAgent.Host.Checkpoints;
using KataAgent.Host.Containers;
using KataAgent.Host.Sandboxes;
using KataAgent.Host.Vm;
using KataAgent.Rootfs.Busybox;
using KataAgent.VmTests.Infrastructure;
using Xunit;

namespace KataAgent.VmTests.Checkpoints;

/// <summary>
/// One checkpointable sandbox (blk rootfs, serial channel, a hot-plugged vCPU) running a counter that prints 1, 2, 3, …
/// to stdout and writes the last number to /count in its rootfs; checkpointed once with the pod left running, then
/// once with it stopped. The tests restore from those directories; what the host read of the counter before each
/// checkpoint is kept here.
/// </summary>
public sealed class CounterCheckpointFixture : IAsyncLifetime
{
    internal static readonly TimeSpan Limit = TimeSpan.FromSeconds(180);

    internal const string CounterScript = "i=0; while true; do i=$((i+1)); echo $i; echo $i > /count; sleep 0.2; done";

    public TempDirectory Temp { get; } = new();

    /// <summary>The stopped checkpoint: the pod exists nowhere else.</summary>
    public string Checkpoint => Temp.File("checkpoint");

    /// <summary>The checkpoint taken with LeaveRunning.</summary>
    public string LiveCheckpoint => Temp.File("live-checkpoint");

    /// <summary>The stdout text the host had read when the stopped checkpoint was finished (and its stream ended).</summary>
    public string OutputBeforeCheckpoint { get; private set; } = "";

    /// <summary>qemu's run state right after the LeaveRunning checkpoint returned, and the number the counter had printed then.</summary>
    public string StatusAfterLiveCheckpoint { get; private set; } = "";

    public int PrintedAtLiveCheckpoint { get; private set; }

    /// <summary>The last number printed once the counter had gone on after the LeaveRunning checkpoint.</summary>
    public int PrintedAfterLiveCheckpoint { get; private set; }

    public int SourceProcessId { get; private set; }

    public string SourceState => Temp.File("source");

    public SandboxCheckpoint? Stopped { get; private set; }

    internal static SandboxOptions Options(string state, string id) =>
        VmOptions.Sandbox(state, id, vm => vm with { AgentChannel = QemuAgentChannel.Serial, MaxCpus = 2 }) with { RootfsMode = RootfsMode.Blk, Hostname = "counter" };

    public async Task InitializeAsync()
    {
        HostTools.RequireQemu();
        string rootfs = Temp.File("rootfs");
        await BusyboxRootfs.CreateAsync(rootfs, RepoPaths.Busybox);
        var sandbox = await Sandbox.StartAsync(Options(SourceState, "counter"));
        try
        {
            SourceProcessId = sandbox.Vm.ProcessId;
            await sandbox.Vm.AddCpuAsync();
            var container = await sandbox.CreateContainerAsync("counter", rootfs, ContainerSpecs.Default(["sh", "-c", CounterScript], terminal: false));
            var text = new StringBuilder();
            var reading = ReadIntoAsync(container.InitProcess.Stdout, text);
            await container.StartAsync();
            await UntilAsync(() => Count(text) >= 5);

            await sandbox.CheckpointAsync(LiveCheckpoint, new SandboxCheckpointOptions { LeaveRunning = true });
            StatusAfterLiveCheckpoint = (await sandbox.Vm.Qmp.ExecuteAsync("query-status")).GetProperty("status").GetString() ?? "";
            PrintedAtLiveCheckpoint = Count(text);
            await UntilAsync(() => Count(text) >= PrintedAtLiveCheckpoint + 5);
            PrintedAfterLiveCheckpoint = Count(text);

            Stopped = await sandbox.CheckpointAsync(Checkpoint, new SandboxCheckpointOptions());
            // The stream ends with the VM: what it had is all the host read before the checkpoint.
            try
            {
                await reading.WaitAsync(Limit);
            }
            catch (IOException)
            {
            }
            lock (text)
            {
                OutputBeforeCheckpoint = text.ToString();
            }
        }
        finally
        {
            await sandbox.DisposeAsync();
        }
    }

    public Task DisposeAsync()
    {
        Temp.Dispose();
        return Task.CompletedTask;
    }

    /// <summary>The whole lines in <paramref name="text"/>, the last number printed.</summary>
    internal static int Count(StringBuilder text)
    {
        lock (text)
        {
            return text.ToString().Count(c => c == '\n');
        }
    }

    internal static async Task ReadIntoAsync(Stream stream, StringBuilder text)
    {
        var buffer = new byte[4096];
        int n;
        while ((n = await stream.ReadAsync(buffer)) > 0)
        {
            lock (text)
            {
                text.Append(Encoding.UTF8.GetString(buffer, 0, n));
            }
        }
    }

    internal static async Task UntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Limit;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("the counter did not get there in time");
            }
            await Task.Delay(100);
        }
    }

    /// <summary>"1\n2\n…\nn\n".</summary>
    internal static string Sequence(int from, int to) => string.Concat(Enumerable.Range(from, to - from + 1).Select(i => i + "\n"));
}
