using KataAgent.Protocols.Agent;

namespace KataAgent.Shim.Tasks;

/// <summary>
/// Turns a container's OCI spec as containerd wrote it for a host runtime into one for the pod's VM. Namespace paths
/// are host paths (CRI writes <c>/proc/&lt;sandbox pid&gt;/ns/*</c> and the CNI netns), meaningless in the guest:
/// the network, IPC and UTS namespaces named by a path are the pod's. In the VM the pod's network is the guest's own
/// (its interfaces), so that entry goes; IPC and UTS stay as entries without a path, which the agent (as Kata's) turns
/// into the sandbox's shared IPC and UTS namespaces (the latter holding the pod's hostname): a missing entry would
/// leave the container in the guest's root UTS namespace, which has no hostname. A PID namespace named by a path is
/// the pod's shared one (CRI writes the sandbox's for <c>shareProcessNamespace</c>, Kubernetes' POD mode, and a
/// target container's for TARGET mode, which in a VM, where every task's pid is qemu's, names the pod's too): the
/// entry loses its path and the container asks the agent for the sandbox's PID namespace instead
/// (<see cref="SharesPodPidNamespace"/>), as Kata's runtime does. A mount or cgroup namespace named by a path becomes
/// a new one. The netns path itself is where the VM runs (<see cref="NetworkNamespaceOf"/>). Hooks are host
/// programs and are dropped. <c>cgroupsPath</c> stays as containerd made it: the agent places a path or a systemd
/// <c>slice:prefix:name</c> below the guest's cgroup root.
/// </summary>
internal static class VmSpecRewriter
{
    /// <summary>The network namespace the spec names by path (CRI's pod netns, <c>ctr run --with-ns</c>), or null.</summary>
    public static string? NetworkNamespaceOf(Spec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var entry = spec.Linux?.Namespaces.FirstOrDefault(n => n.Type == "network" && n.Path.Length > 0);
        return entry?.Path;
    }

    /// <summary>
    /// Whether the spec names a PID namespace by path: a pod's container then joins the pod's shared PID namespace
    /// (CreateContainer's sandbox_pidns) rather than getting one of its own (an entry without a path, CRI's CONTAINER
    /// mode).
    /// </summary>
    public static bool SharesPodPidNamespace(Spec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return spec.Linux?.Namespaces.Any(n => n.Type == "pid" && n.Path.Length > 0) ?? false;
    }

    /// <summary>A copy of <paramref name="spec"/> for the guest; its process has a terminal when <paramref name="terminal"/>.</summary>
    public static Spec ForGuest(Spec spec, bool terminal)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var guest = spec.Clone();
        guest.Process ??= new Process();
        guest.Process.Terminal = terminal;
        guest.Hooks = null;
        if (guest.Linux is { } linux)
        {
            var kept = new List<LinuxNamespace>();
            foreach (var ns in linux.Namespaces)
            {
                if (ns.Path.Length == 0)
                {
                    kept.Add(ns);
                    continue;
                }
                if (ns.Type != "network")
                {
                    // A new one: for uts and ipc the agent makes that the sandbox's shared namespace (as Kata's does).
                    kept.Add(new LinuxNamespace { Type = ns.Type });
                }
            }
            linux.Namespaces.Clear();
            linux.Namespaces.AddRange(kept);
        }
        return guest;
    }
}
