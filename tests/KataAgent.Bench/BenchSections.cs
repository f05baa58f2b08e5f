namespace KataAgent.Bench;

/// <summary>
/// The parts of `./build.sh bench [SECTION…]`, each its own table in out/bench/: all of them when
/// none is named. Booting VMs under TCG takes minutes, so the VM sections can be run on their own.
/// </summary>
internal static class BenchSections
{
    /// <summary>Check latency, raw ping-pong, RSS and binary size (issue 2): out/bench/foundation.md.</summary>
    public const string Foundation = "foundation";

    /// <summary>Container run and exec, agent stand-alone (issue 3): out/bench/containers.md.</summary>
    public const string Containers = "containers";

    /// <summary>A container's stdout through ReadStdout and Attach beside a raw copy and a relay floor, agent stand-alone (issue 16): out/bench/stdout.md.</summary>
    public const string Stdout = "stdout";

    /// <summary>VM boot-to-ready beside the floor, memory and image size (issue 4): out/bench/boot.md; then launch-to-workload.</summary>
    public const string Boot = "boot";

    /// <summary>Launch-to-workload through the Sandbox API alone (issue 4): out/bench/workload.md.</summary>
    public const string Workload = "workload";

    /// <summary>TCP throughput and latency node → pod per endpoint model beside no VM (issue 5): out/bench/network.md.</summary>
    public const string Network = "network";

    /// <summary>The agent channel in a VM, vsock beside virtio-serial: stdout throughput and Check (issue 12): out/bench/vsock.md.</summary>
    public const string Vsock = "vsock";

    /// <summary>Container creation with the rootfs shared over virtio-fs beside blk (issue 12): out/bench/rootfs.md.</summary>
    public const string Rootfs = "rootfs";

    /// <summary>The containerd shim beside runc: ctr run of /bin/true, CRI pod start, shim RSS per pod (issue 13): out/bench/shim.md.</summary>
    public const string Shim = "shim";

    /// <summary>Image pull and unpack beside skopeo + umoci (issue 14): out/bench/images.md.</summary>
    public const string Images = "images";

    /// <summary>A pod of three through CreatePod beside per-container calls, and resize latency (issue 15): out/bench/pods.md.</summary>
    public const string Pods = "pods";

    /// <summary>Pod checkpoint and restore beside a cold boot to the same workload (issue 17): out/bench/checkpoint.md.</summary>
    public const string Checkpoint = "checkpoint";

    public static IReadOnlyList<string> All { get; } = [Foundation, Containers, Stdout, Boot, Workload, Network, Vsock, Rootfs, Shim, Images, Pods, Checkpoint];

    /// <summary>The sections named in <paramref name="names"/>, or all of them; an unknown name is an error naming the known ones.</summary>
    public static ISet<string> Select(IReadOnlyList<string> names)
    {
        foreach (string name in names)
        {
            if (!All.Contains(name))
            {
                throw new ArgumentException($"unknown bench section '{name}' (known: {string.Join(", ", All)})");
            }
        }
        var selected = new HashSet<string>(names.Count == 0 ? All : names, StringComparer.Ordinal);
        // Launch-to-workload boots VMs too: it belongs with the boot numbers.
        if (selected.Contains(Boot))
        {
            selected.Add(Workload);
        }
        return selected;
    }
}
