namespace KataAgent.Testing.Registry;

/// <summary>
/// A pod network namespace whose <c>eth0</c> is a veth into a <see cref="TestRegistry"/>'s namespace, so a VM
/// wired into the pod netns (tcfilter) reaches the registry at its own address: the pod end has the second address
/// of a free <c>10.214.x.y/30</c> and a default route via the first, which the registry's end has. The registry
/// listens on its address in that namespace; packets for it are delivered there whichever link they came in on.
/// Disposal deletes the pod netns (and so the pair).
/// </summary>
public sealed class RegistryPodNetwork : IDisposable
{
    /// <summary>Creates the pod netns and wires it into <paramref name="registry"/>'s namespace.</summary>
    public RegistryPodNetwork(TestRegistry registry)
    {
        string suffix = Guid.NewGuid().ToString("N")[..8];
        PodName = "kgp-" + suffix;
        var taken = HostTools.Run("ip", "-4", "-o", "addr", "show") + HostTools.Run("ip", "-n", registry.Netns, "-4", "-o", "addr", "show");
        string gateway, pod;
        do
        {
            int block = Random.Shared.Next(0, 1 << 14);
            gateway = $"10.214.{block >> 6}.{((block & 63) << 2) + 1}";
            pod = $"10.214.{block >> 6}.{((block & 63) << 2) + 2}";
        }
        while (taken.Contains($" {gateway}/", StringComparison.Ordinal) || taken.Contains($" {pod}/", StringComparison.Ordinal));
        GatewayAddress = gateway;
        PodAddress = pod;
        HostTools.Run("ip", "netns", "add", PodName);
        try
        {
            HostTools.Run("ip", "netns", "exec", PodName, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1");
            HostTools.Run("ip", "-n", PodName, "link", "set", "lo", "up");
            HostTools.Run("ip", "-n", registry.Netns, "link", "add", "gp" + suffix[..6], "type", "veth", "peer", "name", "eth0", "netns", PodName);
            HostTools.Run("ip", "-n", registry.Netns, "addr", "add", gateway + "/30", "dev", "gp" + suffix[..6]);
            HostTools.Run("ip", "-n", registry.Netns, "link", "set", "gp" + suffix[..6], "up");
            HostTools.Run("ip", "-n", PodName, "addr", "add", pod + "/30", "dev", "eth0");
            HostTools.Run("ip", "-n", PodName, "link", "set", "eth0", "up");
            HostTools.Run("ip", "-n", PodName, "route", "add", "default", "via", gateway, "dev", "eth0");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The pod netns (ip netns name).</summary>
    public string PodName { get; }

    /// <summary>The pod netns's path, for <c>QemuOptions.NetworkNamespacePath</c>.</summary>
    public string PodPath => $"/var/run/netns/{PodName}";

    /// <summary>The pod's (and so the guest's) address.</summary>
    public string PodAddress { get; }

    /// <summary>The registry namespace's end, the pod's default gateway.</summary>
    public string GatewayAddress { get; }

    /// <summary>Deletes the pod netns, and the veth pair with it.</summary>
    public void Dispose()
    {
        try
        {
            HostTools.Run("ip", "netns", "delete", PodName);
        }
        catch (InvalidOperationException)
        {
            // Never made, or already gone.
        }
    }
}
