namespace KataAgent.Host.Vm;

/// <summary>How the host reaches the agent of a <see cref="QemuVm"/> (<see cref="QemuOptions.AgentChannel"/>).</summary>
public enum QemuAgentChannel
{
    /// <summary>
    /// virtio-vsock, as Kata: the agent listens on <c>vsock://-1:1024</c>, its log on port 1025, the debug console on
    /// 1026, and any number of host connections at once. The kernel's <c>vhost-vsock-pci</c> where /dev/vhost-vsock
    /// exists (the host connects with AF_VSOCK), else a <c>vhost-user-vsock-pci</c> device served by the host
    /// library's own backend (the host connects through its hybrid-vsock unix socket).
    /// </summary>
    Vsock,

    /// <summary>
    /// One virtio-serial port (<c>agent.channel.0</c>) whose host end is a unix socket qemu serves: one host
    /// connection at a time. What a VM snapshot can carry: qemu 7.2 refuses to migrate a VM with a vhost-user device.
    /// </summary>
    Serial,
}
