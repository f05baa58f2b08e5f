using Google.Protobuf.WellKnownTypes;
using KataAgent.Protocols.Containerd.Task;

namespace KataAgent.Shim.Tasks;

internal sealed partial class TaskService
{
    /// <summary>Connect: the shim's pid and the task's (qemu's).</summary>
    private Task<ConnectResponse> ConnectAsync(ConnectRequest request, CancellationToken cancellationToken)
    {
        uint taskPid = 0;
        if (request.Id.Length > 0)
        {
            taskPid = Find(request.Id).Init.Pid;
        }
        return Task.FromResult(new ConnectResponse { ShimPid = (uint)Environment.ProcessId, TaskPid = taskPid });
    }

    /// <summary>
    /// Shutdown: the daemon ends only when it serves no task any more (containerd sends it after every task's delete,
    /// also while a pod's other containers still run here).
    /// </summary>
    private async Task<Empty> ShutdownAsync(ShutdownRequest request, CancellationToken cancellationToken)
    {
        await _tableGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            lock (_tasks)
            {
                if (_tasks.Count > 0)
                {
                    return new Empty();
                }
            }
            if (_vm is { } vm)
            {
                await StopVmAsync(vm, graceful: false).ConfigureAwait(false);
                await vm.Gone.Task.ConfigureAwait(false);
                _vm = null;
            }
        }
        finally
        {
            _tableGate.Release();
        }
        _lifetime.RequestExit();
        return new Empty();
    }
}
