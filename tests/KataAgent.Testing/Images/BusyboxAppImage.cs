using KataAgent.Rootfs.Busybox;

namespace KataAgent.Testing.Images;

/// <summary>
/// A busybox-static image whose config sets every field a container's process takes from an image, built offline
/// with umoci into an OCI layout (tag <see cref="Tag"/>): Entrypoint <c>/bin/sh -c SCRIPT app</c> with Cmd
/// <c>default-arg</c> (so the output shows which args reached it), Env <c>GREETING=from-image</c>, WorkingDir
/// <c>/srv/app</c> (which holds <c>note.txt</c>), and User <c>app</c>, a name only the image's /etc/passwd resolves
/// (uid 1000, gid 1000, and group <c>staff</c> 50 as a supplementary group). The script prints one line:
/// <c>greeting=… cwd=… ids=UID:GID groups=… args=…</c>. Needs umoci; root for the owners.
/// </summary>
public static class BusyboxAppImage
{
    /// <summary>The tag in the layout.</summary>
    public const string Tag = "app";

    /// <summary>What the entrypoint's script prints, for the image's defaults (see <see cref="Line"/>).</summary>
    public const string DefaultLine = "greeting=from-image cwd=/srv/app ids=1000:1000 groups=1000 50 args=default-arg";

    /// <summary>The script the entrypoint runs with <c>sh -c</c>.</summary>
    public const string Script = "echo \"greeting=$GREETING cwd=$(pwd) ids=$(id -u):$(id -g) groups=$(id -G) args=$*\"";

    /// <summary>The line the script prints for these values.</summary>
    public static string Line(string greeting, string cwd, string ids, string groups, string args) =>
        $"greeting={greeting} cwd={cwd} ids={ids} groups={groups} args={args}";

    /// <summary>Builds the image into the new OCI layout <paramref name="layout"/>, its scratch bundle in <paramref name="scratch"/>.</summary>
    public static async Task BuildAsync(string layout, string scratch)
    {
        string umoci = HostTools.Require("umoci", "umoci");
        string image = $"{layout}:{Tag}";
        string bundle = Path.Combine(scratch, "app-bundle");
        if (!Directory.Exists(layout))
        {
            await HostTools.RunAsync(umoci, ["init", "--layout", layout]);
        }
        await HostTools.RunAsync(umoci, ["new", "--image", image]);
        await HostTools.RunAsync(umoci, ["unpack", "--image", image, bundle]);
        string rootfs = Path.Combine(bundle, "rootfs");
        Directory.Delete(rootfs, recursive: true);
        await BusyboxRootfs.CreateAsync(rootfs, RepoPaths.Busybox);
        await File.AppendAllTextAsync(Path.Combine(rootfs, "etc", "passwd"), "app:x:1000:1000:app:/srv/app:/bin/sh\n");
        await File.AppendAllTextAsync(Path.Combine(rootfs, "etc", "group"), "app:x:1000:\nstaff:x:50:app\n");
        Directory.CreateDirectory(Path.Combine(rootfs, "srv", "app"));
        await File.WriteAllTextAsync(Path.Combine(rootfs, "srv", "app", "note.txt"), "a note in the image\n");
        await HostTools.RunAsync(umoci, ["repack", "--image", image, bundle]);
        await HostTools.RunAsync(umoci, ["config", "--image", image,
            "--config.entrypoint", "/bin/sh", "--config.entrypoint", "-c", "--config.entrypoint", Script, "--config.entrypoint", "app",
            "--config.cmd", "default-arg",
            "--config.env", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "--config.env", "GREETING=from-image",
            "--config.workingdir", "/srv/app", "--config.user", "app",
            "--os", "linux", "--architecture", "amd64"]);
        await HostTools.RunAsync(umoci, ["gc", "--layout", layout]);
        Directory.Delete(bundle, recursive: true);
    }
}
