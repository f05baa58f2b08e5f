using KataAgent.Host.Sandboxes;
using KataAgent.Shim.Sizing;

namespace KataAgent.Shim.Tasks;

/// <summary>The VM this shim runs for its pod (or its lone container), and how its end is going.</summary>
internal sealed class PodVm
{
    private readonly object _gate = new();
    private Task? _teardown;

    public PodVm(Sandbox sandbox, string sandboxId, string stateDirectory, VmSize size, SizingOptions sizing)
    {
        Size = size;
        Sizing = sizing;
        Sandbox = sandbox;
        SandboxId = sandboxId;
        StateDirectory = stateDirectory;
        Pid = (uint)sandbox.Vm.ProcessId;
    }

    public Sandbox Sandbox { get; }

    /// <summary>The VM's boot size and hot-plug headroom.</summary>
    public VmSize Size { get; }

    /// <summary>The sizing options it was booted with (the base the demand of its containers is added to).</summary>
    public SizingOptions Sizing { get; }

    /// <summary>Serialises the VM's growth (Create and Update of its containers).</summary>
    public SemaphoreSlim ResizeGate { get; } = new(1, 1);

    /// <summary>The pod's sandbox id (for a lone container, its own id).</summary>
    public string SandboxId { get; }

    /// <summary>The VM's state directory (below the configuration's stateRoot).</summary>
    public string StateDirectory { get; }

    /// <summary>qemu's pid: the pid of every task of the pod, as Kata reports it.</summary>
    public uint Pid { get; }

    /// <summary>Cancelled when the VM ends (stops the OOM loop).</summary>
    public CancellationTokenSource Lifetime { get; } = new();

    /// <summary>Completes when the VM is gone, every task in it has exited, and its host side is cleaned up.</summary>
    public TaskCompletionSource Gone { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>True once the shim itself began to take the VM down (not a death of its own).</summary>
    public bool StoppedByShim
    {
        get
        {
            lock (_gate)
            {
                return _teardown is not null;
            }
        }
    }

    /// <summary>The shim configuration the VM was booted from (named in refusals that a setting there avoids).</summary>
    public string ConfigurationPath { get; init; } = "(the shim configuration)";

    /// <summary>Set when a Checkpoint with exit took the VM down: its tasks exit as killed, not as a VM that died.</summary>
    public bool CheckpointedAway { get; set; }

    /// <summary>The sandbox task's status when it was killed (128 + signal), if it was.</summary>
    public uint? KilledStatus { get; set; }

    /// <summary>The shim's teardown of the VM, once begun.</summary>
    public Task? Teardown
    {
        get
        {
            lock (_gate)
            {
                return _teardown;
            }
        }
    }

    /// <summary>Starts <paramref name="teardown"/> once; later calls get the first one.</summary>
    public Task BeginTeardown(Func<Task> teardown)
    {
        lock (_gate)
        {
            return _teardown ??= Task.Run(teardown);
        }
    }
}
