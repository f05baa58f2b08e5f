using KataAgent.Linux.Addressing;

namespace KataAgent.Host.Vm;

/// <summary>Where the host reaches a <see cref="QemuVm"/>'s agent, its log and its debug console (<see cref="QemuVm.Addresses"/>).</summary>
/// <param name="Agent">The agent's API (vsock port 1024, or the serial channel's socket).</param>
/// <param name="Log">The agent's log lines as they come (vsock port 1025); null on the serial channel, whose log is only the file <see cref="QemuVm.AgentLogPath"/>.</param>
/// <param name="DebugConsole">The debug console (vsock port 1026, or the serial port's socket); null when the VM has none.</param>
public sealed record QemuVmAddresses(AgentAddress Agent, AgentAddress? Log, AgentAddress? DebugConsole);
