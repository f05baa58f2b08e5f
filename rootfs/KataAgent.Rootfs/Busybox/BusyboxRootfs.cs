using KataAgent.Rootfs.Elf;
using KataAgent.Rootfs.Tools;

namespace KataAgent.Rootfs.Busybox;

/// <summary>
/// A minimal container root filesystem from a static busybox (Debian's busybox-static):
/// <c>/bin/busybox</c>, a symlink in <c>/bin</c> for each applet it lists, <c>/etc/passwd</c> and
/// <c>/etc/group</c> with root and nobody, and the directories a runtime mounts over or a shell
/// expects. It is the default rootfs of <c>kactl run</c> (out/rootfs) and the rootfs of the
/// container tests.
/// </summary>
public static class BusyboxRootfs
{
    /// <summary>Where Debian's busybox-static installs it.</summary>
    public const string DefaultBusyboxPath = "/bin/busybox";

    private static readonly string[] Directories = ["bin", "dev", "etc", "proc", "root", "run", "sys", "tmp", "var"];

    private const UnixFileMode Executable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
        | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    /// <summary>Builds the rootfs in <paramref name="directory"/>, which must not exist yet; returns how many applet links it made.</summary>
    /// <exception cref="FileNotFoundException">No busybox at <paramref name="busyboxPath"/>.</exception>
    /// <exception cref="InvalidOperationException">busybox is dynamically linked (it would find no libc in the rootfs), or could not list its applets.</exception>
    /// <exception cref="IOException"><paramref name="directory"/> exists.</exception>
    public static async Task<int> CreateAsync(string directory, string busyboxPath = DefaultBusyboxPath, CancellationToken cancellationToken = default)
    {
        if (!File.Exists(busyboxPath))
        {
            throw new FileNotFoundException($"{busyboxPath} does not exist: install busybox-static (apt-get install busybox-static)", busyboxPath);
        }
        if (!ElfFile.Read(busyboxPath).IsStatic)
        {
            throw new InvalidOperationException($"{busyboxPath} is dynamically linked: the rootfs has no libraries for it; use a static busybox (Debian's busybox-static)");
        }
        if (Directory.Exists(directory) || File.Exists(directory))
        {
            throw new IOException($"{directory} already exists: remove it first (the rootfs is always built from scratch)");
        }
        var list = await ExternalTool.RunAsync(busyboxPath, ["--list"], cancellationToken: cancellationToken).ConfigureAwait(false);
        if (list.ExitCode != 0)
        {
            throw new InvalidOperationException($"{busyboxPath} --list exited with {list.ExitCode}: {list.StandardError.Trim()}");
        }
        foreach (string name in Directories)
        {
            Directory.CreateDirectory(Path.Combine(directory, name));
        }
        // Anyone may create files in /tmp, only the owner remove them: the usual 1777.
        File.SetUnixFileMode(Path.Combine(directory, "tmp"), (UnixFileMode)0x3FF | UnixFileMode.StickyBit);
        string busybox = Path.Combine(directory, "bin", "busybox");
        File.Copy(busyboxPath, busybox);
        File.SetUnixFileMode(busybox, Executable);
        int links = 0;
        foreach (string applet in list.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            // Applet names are plain words; anything else (a path, "..") must not place a link outside /bin.
            if (applet == "busybox" || applet.Contains('/') || applet.StartsWith('.'))
            {
                continue;
            }
            string link = Path.Combine(directory, "bin", applet);
            if (!File.Exists(link))
            {
                File.CreateSymbolicLink(link, "busybox");
                links++;
            }
        }
        await File.WriteAllTextAsync(Path.Combine(directory, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n", cancellationToken).ConfigureAwait(false);
        await File.WriteAllTextAsync(Path.Combine(directory, "etc", "group"), "root:x:0:\nnogroup:x:65534:\n", cancellationToken).ConfigureAwait(false);
        return links;
    }
}
