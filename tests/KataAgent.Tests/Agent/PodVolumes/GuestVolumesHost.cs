using CliWrap;
using CliWrap.Buffered;
using KataAgent.Agent.Devices;
using KataAgent.Agent.PodVolumes;
using KataAgent.Agent.Processes;
using KataAgent.Agent.Storage;
using KataAgent.Tests.StorageDrivers;
using Microsoft.Extensions.Logging.Abstractions;

namespace KataAgent.Tests.Agent.PodVolumes;

/// <summary>
/// <see cref="GuestVolumes"/> on the host: loop devices stand in for the VM's virtio-blk disks, found through a fake
/// sysfs at the PCI paths the test gives them; volumes are mounted below a unique directory of /run/kata-containers;
/// mke2fs is the host's (Debian's, as in the guest image), run with CliWrap because the agent's reaper would take
/// every child of the test process. Counts the formats it runs.
/// </summary>
internal sealed class GuestVolumesHost : IDisposable
{
    private readonly FakeSysfs _sysfs = new();
    private int _nextSlot = 1;

    public GuestVolumesHost()
    {
        Root = $"/run/kata-containers/test-pod-volumes-{Guid.NewGuid():N}";
        Volumes = New();
    }

    /// <summary>Where the volumes are mounted.</summary>
    public string Root { get; }

    public GuestVolumes Volumes { get; private set; }

    /// <summary>mke2fs runs so far.</summary>
    public int Formats { get; private set; }

    /// <summary>A new GuestVolumes on the same root and disks: what a new guest agent would find.</summary>
    public GuestVolumes New()
    {
        var mke2fs = new Mke2fs(async (path, arguments, cancellationToken) =>
        {
            Formats++;
            var result = await Cli.Wrap(path).WithArguments(arguments).WithValidation(CommandResultValidation.None).ExecuteBufferedAsync(cancellationToken);
            return new ToolResult(result.ExitCode, System.Text.Encoding.UTF8.GetBytes(result.StandardOutput), result.StandardError);
        }, ["/usr/sbin", "/sbin"]);
        Volumes = new GuestVolumes(new BlockDeviceLocator(new PciSysfs(_sysfs.Root), "/dev", NullLogger.Instance), TimeSpan.FromSeconds(5), mke2fs, modules: null, NullLogger.Instance, Root);
        return Volumes;
    }

    /// <summary>Plugs <paramref name="disk"/> in at a new root-bus slot; returns its PCI path.</summary>
    public string Plug(BlankLoopDisk disk)
    {
        int slot = _nextSlot++;
        _sysfs.AddVirtioBlock(_sysfs.RootBus, "0000:00", slot, disk.Name, disk.Major, disk.Minor);
        return $"{slot:x2}";
    }

    /// <summary>Mount points below <see cref="Root"/>, from /proc/self/mountinfo.</summary>
    public IReadOnlyList<(string MountPoint, string FsType, string Source)> Mounts() =>
        File.ReadAllLines("/proc/self/mountinfo")
            .Select(line => line.Split(' '))
            .Select(f => (MountPoint: Unescape(f[4]), Tail: f[(Array.IndexOf(f, "-") + 1)..]))
            .Where(m => m.MountPoint == Root || m.MountPoint.StartsWith(Root + "/", StringComparison.Ordinal))
            .Select(m => (m.MountPoint, m.Tail[0], m.Tail[1]))
            .ToList();

    /// <summary>Loop devices bound to a file below <paramref name="directory"/>.</summary>
    public static IReadOnlyList<string> LoopsBackedBelow(string directory) =>
        Directory.EnumerateDirectories("/sys/block", "loop*")
            .Where(d => File.Exists(Path.Combine(d, "loop", "backing_file")))
            .Where(d => File.ReadAllText(Path.Combine(d, "loop", "backing_file")).StartsWith(directory + "/", StringComparison.Ordinal))
            .Select(Path.GetFileName)
            .ToList()!;

    private static string Unescape(string field) => field.Replace("\\040", " ").Replace("\\011", "\t").Replace("\\012", "\n").Replace("\\134", "\\");

    public void Dispose()
    {
        foreach (var (mountPoint, _, _) in Mounts().Reverse())
        {
            KataAgent.Linux.Interop.Libc.Umount2(mountPoint, KataAgent.Linux.Interop.Libc.MNT_DETACH);
        }
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
        _sysfs.Dispose();
    }
}
