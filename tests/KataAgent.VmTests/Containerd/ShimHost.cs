using FluentAssertions;
using KataAgent.Testing.Containerd;

namespace KataAgent.VmTests.Containerd;

/// <summary>What the containerd tests look for on the host: our VMs and their daemons, and waiting for a condition.</summary>
internal static class ShimHost
{
    /// <summary>The pids of qemu processes of this containerd's shims (their command lines name the shim's state root).</summary>
    public static IReadOnlyList<int> QemuPids(PrivateContainerd containerd) => PidsOf(containerd, "qemu-system");

    /// <summary>The pids of the qemu of the VM that the shim of group <paramref name="id"/> in <paramref name="ns"/> runs (its state directory).</summary>
    public static IReadOnlyList<int> QemuPids(PrivateContainerd containerd, string ns, string id) =>
        PidsOf(containerd, "qemu-system", KataAgent.Shim.Tasks.VmStatePaths.For(containerd.ShimStateRoot, ns, id));

    /// <summary>
    /// Waits until the shim serving <paramref name="id"/> in <paramref name="ns"/> (a ctr task, a CRI pod) has exited:
    /// only the test's own, so that a shim another test leaked does not fail this one.
    /// </summary>
    public static Task WaitForShimGoneAsync(PrivateContainerd containerd, string ns, string id) =>
        WaitForAsync(() => Task.FromResult(containerd.ShimPids(ns, id).Count == 0), $"the shim of {ns}/{id} to exit", TimeSpan.FromMinutes(3));

    /// <summary>The pids of virtiofsd processes of this containerd's shims.</summary>
    public static IReadOnlyList<int> VirtiofsdPids(PrivateContainerd containerd) => PidsOf(containerd, "virtiofsd");

    /// <summary>Polls <paramref name="condition"/> until it holds, failing with <paramref name="what"/> after <paramref name="limit"/> (default 60 s).</summary>
    public static async Task WaitForAsync(Func<Task<bool>> condition, string what, TimeSpan? limit = null)
    {
        var deadline = DateTime.UtcNow + (limit ?? TimeSpan.FromSeconds(60));
        while (!await condition())
        {
            DateTime.UtcNow.Should().BeBefore(deadline, $"waiting for {what}");
            await Task.Delay(250);
        }
    }

    /// <summary>The line of <c>ctr tasks ls</c> for <paramref name="id"/> as (pid, status), or null when it is not listed.</summary>
    public static async Task<(int Pid, string Status)?> TaskLineAsync(PrivateContainerd containerd, string id)
    {
        var list = (await containerd.CtrAsync(["tasks", "ls"])).EnsureSuccess("ctr tasks ls");
        foreach (string line in list.StandardOutput.Split('\n').Skip(1))
        {
            string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 3 && fields[0] == id)
            {
                return (int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture), fields[2]);
            }
        }
        return null;
    }

    private static List<int> PidsOf(PrivateContainerd containerd, string commandPrefix, string? naming = null) =>
        [.. HostFootprint.ProcessesNaming(naming ?? containerd.ShimStateRoot)
            .Select(p => p.Split(' ', 3))
            .Where(p => Path.GetFileName(p[1]).StartsWith(commandPrefix, StringComparison.Ordinal))
            .Select(p => int.Parse(p[0], System.Globalization.CultureInfo.InvariantCulture))];
}
