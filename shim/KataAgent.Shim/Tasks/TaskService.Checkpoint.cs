using Google.Protobuf.WellKnownTypes;
using KataAgent.Host.Checkpoints;
using KataAgent.Protocols.Containerd.Events;
using KataAgent.Protocols.Containerd.Runc;
using KataAgent.Protocols.Containerd.Task;
using KataAgent.Shim.Daemon;

namespace KataAgent.Shim.Tasks;

internal sealed partial class TaskService
{
    /// <summary>The type URLs of the checkpoint options containerd's client sends (runc's, and the legacy one ctr uses for other runtimes).</summary>
    internal static readonly string[] CheckpointOptionsTypeUrls = ["containerd.runc.v1.CheckpointOptions", "containerd.linux.runc.CheckpointOptions"];

    /// <summary>
    /// Checkpoint: the whole pod's VM (<see cref="Host.Sandboxes.Sandbox.CheckpointAsync"/>), for the sandbox task or a
    /// lone container, written into the directory containerd gives (<c>path</c>, or the options' <c>image_path</c>),
    /// which containerd then packs into its checkpoint image. The pod runs on unless the options say <c>exit</c>; then its
    /// VM is gone and every task exits as killed. A container of a pod cannot be checkpointed alone, and a VM with a
    /// device qemu cannot migrate is refused before anything is paused: both ErrNotImplemented, with the reason (and the
    /// configuration key that avoids the device). Publishes TaskCheckpointed.
    /// </summary>
    private async Task<Empty> CheckpointAsync(CheckpointTaskRequest request, CancellationToken cancellationToken)
    {
        var task = Find(request.Id);
        var (exit, path) = ReadCheckpointOptions(request);
        await _tableGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (task.Role == PodRole.PodContainer)
            {
                throw TaskException.Unimplemented($"task {request.Id} is a container of pod {_vm?.SandboxId ?? "(gone)"}: a container in a VM cannot be checkpointed alone; checkpoint the pod's sandbox task {_vm?.SandboxId ?? ""}, which takes the whole VM with every container");
            }
            if (_vm is not { } vm || vm.Teardown is not null || vm.Gone.Task.IsCompleted || !vm.Sandbox.Vm.IsRunning)
            {
                throw TaskException.FailedPrecondition($"task {request.Id}: its VM is not running");
            }
            var sandbox = vm.Sandbox;
            if (CheckpointRefusal.Reason(vm.SandboxId, sandbox.RootfsMode, [.. sandbox.Vm.Options.SharedDirectories.Select(s => s.Tag)],
                sandbox.Vm.AgentAddress.Kind, vm.ConfigurationPath) is { } reason)
            {
                throw TaskException.Unimplemented(reason);
            }
            if (!exit)
            {
                var copy = await sandbox.CheckpointAsync(path, new SandboxCheckpointOptions { LeaveRunning = true }, ct: cancellationToken).ConfigureAwait(false);
                ShimLog.Info($"checkpointed pod {vm.SandboxId} into {path} ({copy.SizeBytes} bytes, paused {copy.Downtime.TotalMilliseconds:0} ms); it runs on");
            }
            else
            {
                // The checkpoint takes the VM down itself: its end is then the shim's doing, not a death.
                vm.CheckpointedAway = true;
                try
                {
                    var copy = await sandbox.CheckpointAsync(path, new SandboxCheckpointOptions { LeaveRunning = false }, ct: cancellationToken).ConfigureAwait(false);
                    ShimLog.Info($"checkpointed pod {vm.SandboxId} into {path} ({copy.SizeBytes} bytes) and stopped it");
                }
                catch when (sandbox.Vm.IsRunning)
                {
                    vm.CheckpointedAway = false;
                    throw;
                }
            }
        }
        finally
        {
            _tableGate.Release();
        }
        _events.Publish(new TaskCheckpointed { ContainerId = request.Id, Checkpoint = path });
        return new Empty();
    }

    /// <summary>Where to write and whether to stop after: the request's path (or the options' image_path), absolute; exit from the options.</summary>
    internal static (bool Exit, string Path) ReadCheckpointOptions(CheckpointTaskRequest request)
    {
        bool exit = false;
        string path = request.Path;
        if (request.Options is { } options && (options.TypeUrl.Length > 0 || !options.Value.IsEmpty))
        {
            string typeName = options.TypeUrl[(options.TypeUrl.LastIndexOf('/') + 1)..];
            if (!CheckpointOptionsTypeUrls.Contains(typeName))
            {
                throw TaskException.InvalidArgument("options", $"checkpoint options of type '{options.TypeUrl}' are not {string.Join(" or ", CheckpointOptionsTypeUrls)}");
            }
            CheckpointOptions parsed;
            try
            {
                parsed = CheckpointOptions.Parser.ParseFrom(options.Value);
            }
            catch (Google.Protobuf.InvalidProtocolBufferException e)
            {
                throw TaskException.InvalidArgument("options", $"not a {typeName}: {e.Message}");
            }
            exit = parsed.Exit;
            if (parsed.ImagePath.Length > 0)
            {
                path = parsed.ImagePath;
            }
        }
        if (path.Length == 0 || path.Contains('\0') || !System.IO.Path.IsPathFullyQualified(path))
        {
            throw TaskException.InvalidArgument("path", $"'{path}' is not an absolute path");
        }
        return (exit, System.IO.Path.GetFullPath(path));
    }
}
