namespace KataAgent.Host.Vm;

/// <summary>How a qemu this process started ended (<see cref="QemuVm.Exited"/>).</summary>
/// <param name="ExitCode">qemu's exit code: 0 after the guest powered off or a QMP quit.</param>
/// <param name="StartTime">When qemu was started.</param>
/// <param name="ExitTime">When it exited.</param>
public sealed record QemuExit(int ExitCode, DateTimeOffset StartTime, DateTimeOffset ExitTime);
