namespace KataAgent.Host.Vm;

/// <summary>
/// A virtiofsd that exited while its VM ran (<see cref="QemuVm.VirtiofsdFailure"/>): the guest's requests to that share
/// no longer get answers, so the VM is not usable as it was and should be stopped (as Kata's runtime stops a sandbox
/// whose virtiofsd died).
/// </summary>
/// <param name="Tag">The share's tag.</param>
/// <param name="HostPath">The share's host directory.</param>
/// <param name="ExitCode">virtiofsd's exit code (128 + the signal when one killed it) when it was this process's child;
/// null for a detached or attached VM's, whose status only its parent sees.</param>
/// <param name="LogTail">The last lines of its log (virtiofsd-TAG.log in the state directory).</param>
public sealed record VirtiofsdExit(string Tag, string HostPath, int? ExitCode, string LogTail)
{
    /// <summary>What happened, in one message with the log tail.</summary>
    public string Message =>
        $"virtiofsd of the shared directory '{Tag}' ({HostPath}) exited{(ExitCode is { } code ? $" with code {code}" : "")} while the VM ran; the guest's requests to it go unanswered\n--- last virtiofsd log lines ---\n{LogTail}";

    /// <summary>The failure as a <see cref="VmException"/>, for whoever stops the VM over it.</summary>
    public VmException ToException() => new(Message);
}
