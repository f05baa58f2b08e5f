using System.Globalization;
using KataAgent.Agent.Errors;
using KataAgent.Agent.Guest.Hotplug;

namespace KataAgent.Agent.Pods;

/// <summary>
/// UpdatePod's steps in the order that keeps every limit within what the guest has at each moment: first what
/// grows the guest (CPUs the host hot-plugged onlined, up to the count asked for; hot-plugged memory onlined), then
/// the containers' limits, then what shrinks it (CPUs above the count offlined, before the host unplugs them). A
/// resize that grows one thing and shrinks another is both at once and keeps the same order.
/// </summary>
internal sealed class PodResizer(GuestHotplug hotplug, string procRoot)
{
    /// <summary>Applies the resize; <paramref name="limits"/> set the containers' cgroup limits, in order. Returns what the guest has online then.</summary>
    public async Task<(uint OnlineCpus, ulong MemTotalBytes)> ResizeAsync(uint vcpus, bool onlineMemory, IReadOnlyList<Action> limits, CancellationToken cancellationToken)
    {
        int online = vcpus > 0 ? hotplug.OnlineCpuCount() : 0;
        if (vcpus > online)
        {
            await hotplug.OnlineAsync(vcpus, cpuOnly: true, wait: true, cancellationToken).ConfigureAwait(false);
        }
        if (onlineMemory)
        {
            await hotplug.OnlineAsync(0, cpuOnly: false, wait: true, cancellationToken).ConfigureAwait(false);
        }
        foreach (var apply in limits)
        {
            apply();
        }
        if (vcpus > 0 && vcpus < online)
        {
            await hotplug.OfflineAsync(vcpus, "vcpus", cancellationToken).ConfigureAwait(false);
        }
        return ((uint)hotplug.OnlineCpuCount(), MemTotalBytes());
    }

    /// <summary>MemTotal of <c>meminfo</c>, in bytes.</summary>
    public ulong MemTotalBytes()
    {
        string file = Path.Combine(procRoot, "meminfo");
        foreach (string line in File.ReadLines(file))
        {
            if (line.StartsWith("MemTotal:", StringComparison.Ordinal))
            {
                string[] words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (words.Length >= 2 && ulong.TryParse(words[1], NumberStyles.None, CultureInfo.InvariantCulture, out ulong kib))
                {
                    return kib * 1024;
                }
            }
        }
        throw AgentException.Internal($"{file} has no MemTotal line");
    }
}
