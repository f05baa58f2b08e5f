using KataAgent.Rootfs.Busybox;

namespace KataAgent.Testing.Containerd;

/// <summary>
/// Container images for the containerd tests, built offline from Debian's static busybox (no registry): an OCI
/// layout made with umoci (one layer holding busybox and its applet links, /etc/passwd, /etc/group), copied by
/// skopeo into docker-archive tarballs with full names, which <c>ctr images import</c> takes as they are. Two
/// images share the layer: <see cref="Reference"/> (command <c>sh</c>) for the workloads and
/// <see cref="PauseReference"/> (an endless sleep) for CRI's <c>sandbox_image</c>. Built once per test process.
/// </summary>
public static class BusyboxOciImage
{
    /// <summary>The workload image's name.</summary>
    public const string Reference = "example.com/kataagent/busybox:v1";

    /// <summary>The pod sandbox ("pause") image's name.</summary>
    public const string PauseReference = "example.com/kataagent/pause:v1";

    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static BusyboxOciArchives? _built;

    /// <summary>The two docker-archive tarballs, built on first use (umoci and skopeo, as root).</summary>
    public static async Task<BusyboxOciArchives> BuildAsync()
    {
        await Gate.WaitAsync();
        try
        {
            return _built ??= await BuildOnceAsync();
        }
        finally
        {
            Gate.Release();
        }
    }

    private static async Task<BusyboxOciArchives> BuildOnceAsync()
    {
        string umoci = HostTools.Require("umoci", "umoci");
        string skopeo = HostTools.Require("skopeo", "skopeo");
        string directory = Directory.CreateTempSubdirectory("ka-oci-").FullName;
        // The archives outlive every fixture of the process (each imports them into its own containerd).
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
            }
        };
        string layout = Path.Combine(directory, "layout");
        string bundle = Path.Combine(directory, "bundle");
        await HostTools.RunAsync(umoci, ["init", "--layout", layout]);
        await HostTools.RunAsync(umoci, ["new", "--image", layout + ":empty"]);
        await HostTools.RunAsync(umoci, ["unpack", "--image", layout + ":empty", bundle]);
        string rootfs = Path.Combine(bundle, "rootfs");
        Directory.Delete(rootfs, recursive: true);
        await BusyboxRootfs.CreateAsync(rootfs, RepoPaths.Busybox);
        await HostTools.RunAsync(umoci, ["repack", "--image", layout + ":layer", bundle]);
        string[] common = ["--config.env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "--config.workingdir", "/"];
        await HostTools.RunAsync(umoci, ["config", "--image", layout + ":layer", "--tag", "v1", .. common, "--config.cmd", "sh"]);
        await HostTools.RunAsync(umoci, ["config", "--image", layout + ":layer", "--tag", "pause", .. common,
            "--config.entrypoint", "/bin/sleep", "--config.cmd", "2147483647"]);
        string workload = Path.Combine(directory, "busybox.tar");
        string pause = Path.Combine(directory, "pause.tar");
        // --insecure-policy: both ends are local files made just now; no signature policy applies.
        await HostTools.RunAsync(skopeo, ["--insecure-policy", "copy", "--quiet", $"oci:{layout}:v1", $"docker-archive:{workload}:{Reference}"]);
        await HostTools.RunAsync(skopeo, ["--insecure-policy", "copy", "--quiet", $"oci:{layout}:pause", $"docker-archive:{pause}:{PauseReference}"]);
        return new BusyboxOciArchives(workload, pause, layout);
    }
}
