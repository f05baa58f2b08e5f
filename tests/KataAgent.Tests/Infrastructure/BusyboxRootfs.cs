using CliWrap;
using CliWrap.Buffered;

namespace KataAgent.Tests.Infrastructure;

/// <summary>A minimal rootfs built from Debian's busybox-static: /bin/busybox, a link per applet, the usual directories.</summary>
public sealed class BusyboxRootfs : IDisposable
{
    private const string Busybox = "/bin/busybox";
    private readonly TempDirectory _directory = new();

    private BusyboxRootfs()
    {
        Path = _directory.File("rootfs");
    }

    /// <summary>The rootfs directory (give it to the OCI spec's Root.Path).</summary>
    public string Path { get; }

    public static async Task<BusyboxRootfs> CreateAsync()
    {
        if (!File.Exists(Busybox))
        {
            throw new InvalidOperationException($"{Busybox} is missing: install busybox-static (./build.sh does as root)");
        }
        var rootfs = new BusyboxRootfs();
        foreach (string directory in new[] { "bin", "proc", "sys", "dev", "tmp", "etc", "root", "var" })
        {
            Directory.CreateDirectory(System.IO.Path.Combine(rootfs.Path, directory));
        }
        string busybox = System.IO.Path.Combine(rootfs.Path, "bin", "busybox");
        File.Copy(Busybox, busybox);
        File.SetUnixFileMode(busybox, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute | UnixFileMode.UserWrite);
        var list = await Cli.Wrap(Busybox).WithArguments("--list").ExecuteBufferedAsync();
        foreach (string applet in list.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string link = System.IO.Path.Combine(rootfs.Path, "bin", applet);
            if (applet != "busybox" && !File.Exists(link))
            {
                File.CreateSymbolicLink(link, "busybox");
            }
        }
        File.WriteAllText(System.IO.Path.Combine(rootfs.Path, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n");
        File.WriteAllText(System.IO.Path.Combine(rootfs.Path, "etc", "group"), "root:x:0:\nnogroup:x:65534:\n");
        return rootfs;
    }

    public void Dispose() => _directory.Dispose();
}
