using KataAgent.Host.Sandboxes;
using KataAgent.Protocols.Containerd.Task;
using KataAgent.Shim.Cli;

namespace KataAgent.Shim.Tasks;

internal sealed partial class TaskService
{
    /// <summary>
    /// The <c>delete</c> action: cleans up what task <see cref="ShimArguments.Id"/> left in
    /// <see cref="ShimArguments.Bundle"/> when its shim is gone or has let go of it (the rootfs unmounted; for a
    /// sandbox, its VM and state), and gives containerd the task's end.
    /// </summary>
    /// <remarks>
    /// containerd runs it after every task's deletion, also for one container of a pod whose shim keeps serving. A
    /// task the daemon deleted cleanly has no <see cref="BundleState"/> left, so nothing is touched then; otherwise the
    /// bundle's state says what the task owned: its VM (qemu ended, share mounts detached, pod netns restored from the
    /// journal, state deleted) and the rootfs mount. As Kata's, the answer is 128 + SIGKILL at the time of the call.
    /// </remarks>
    public static async Task<DeleteResponse> CleanupAsync(ShimArguments arguments, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        ValidateId(arguments.Id, "-id");
        string bundle = ValidateBundle(arguments.Bundle);
        if (BundleState.Read(bundle) is { } state)
        {
            if (state.VmStateDirectory is { } vmState)
            {
                if (!Path.IsPathFullyQualified(vmState) || Path.GetFileName(vmState).Length != 16 || !Path.GetFileName(vmState).All(char.IsAsciiHexDigitLower))
                {
                    throw TaskException.InvalidArgument(BundleState.FileName, $"vmStateDirectory '{vmState}' is not a VM state directory of this shim");
                }
                if (Directory.Exists(vmState))
                {
                    await Sandbox.RemoveStaleAsync(vmState, cancellationToken).ConfigureAwait(false);
                }
            }
            if (state.RootfsMounted)
            {
                RootfsMounter.UnmountAll(Path.Combine(bundle, "rootfs"));
            }
            BundleState.Delete(bundle);
        }
        return new DeleteResponse { Pid = 0, ExitStatus = ProcessExit.Killed, ExitedAt = Time(DateTimeOffset.UtcNow) };
    }
}
