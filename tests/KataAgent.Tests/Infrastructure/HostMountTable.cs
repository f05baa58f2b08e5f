namespace KataAgent.Tests.Infrastructure;

/// <summary>The host's mount table as leak checks compare it.</summary>
public static class HostMountTable
{
    /// <summary>
    /// /proc/self/mountinfo without /run/netns: the network tests (in this assembly and in the VM
    /// suite, which runs in another process at the same time) add and delete named network
    /// namespaces there, and the agent never mounts there.
    /// </summary>
    public static string ReadWithoutNetns() => string.Join('\n', File.ReadAllLines("/proc/self/mountinfo")
        .Where(line => line.Split(' ') is [_, _, _, _, string mountPoint, ..] && mountPoint != "/run/netns" && !mountPoint.StartsWith("/run/netns/", StringComparison.Ordinal)));
}
