using System.Security.Cryptography;
using KataAgent.Linux.Interop;
using KataAgent.Protocols.Guest;

namespace KataAgent.Host.SharedFs;

/// <summary>
/// A sandbox's virtio-fs share on the host, laid out as Kata's runtime lays it out (fs_share_linux.go), but inside
/// the sandbox's state directory, so nothing is mounted in the host's view outside it:
/// <list type="bullet">
/// <item><c>mounts/</c>: a bind mount of itself, made shared (a peer group of its own, not the host's): everything
/// shared with the guest is bind-mounted here.</item>
/// <item><c>shared/</c>: a read-only, nodev, nosuid bind of <c>mounts/</c>, made its slave, so later mounts under
/// <c>mounts/</c> appear in it while the guest can create nothing at its top level; virtiofsd's source (tag
/// <see cref="Tag"/>, mounted at <see cref="GuestDirectory"/> in the guest).</item>
/// <item><c>private/</c>: a private bind mount of itself where each bind is prepared before it is bound into
/// <c>mounts/</c>: a remount's flags (read-only, nodev, nosuid) do not propagate, so they are set on a private
/// mount first and the bind into <c>mounts/</c> copies them, into <c>shared/</c> and virtiofsd's namespace too.</item>
/// </list>
/// Container <c>c</c>'s rootfs is bound at <c>mounts/c/rootfs</c> (the guest's
/// <see cref="GuestRootfs"/>), each bind volume at <c>mounts/c-&lt;16 hex&gt;-&lt;basename(destination)&gt;</c>. Every
/// shared mount is nodev and nosuid on the host (CVE-2020-35517: a guest must not make virtiofsd open a device
/// node). Which names belong to which container is written to <c>share-index/&lt;c&gt;</c> before the bind, so a
/// sandbox attached from another process, or a removal after a crash, finds them all.
/// </summary>
internal sealed class SandboxShare : ISandboxShare
{
    /// <summary>The virtio-fs tag of the sandbox's share, as Kata's runtime names it.</summary>
    public const string Tag = GuestLayout.SharedFsTag;

    /// <summary>Where the agent mounts the share in the guest (Kata's kataGuestSharedDir, with its trailing slash as Kata sends it).</summary>
    public const string GuestDirectory = GuestLayout.SharedDirectory;

    private const ulong SharedFlags = Libc.MS_NODEV | Libc.MS_NOSUID;

    private SandboxShare(string stateDirectory)
    {
        StateDirectory = stateDirectory;
    }

    /// <summary>The sandbox's state directory, which holds the layout.</summary>
    public string StateDirectory { get; }

    /// <summary>Where shared things are bind-mounted.</summary>
    public string MountsDirectory => Path.Combine(StateDirectory, "mounts");

    /// <summary>virtiofsd's source: the read-only slave of <see cref="MountsDirectory"/>.</summary>
    public string SharedDirectory => Path.Combine(StateDirectory, "shared");

    /// <summary>Where binds are prepared before they go into <see cref="MountsDirectory"/>.</summary>
    public string PrivateDirectory => Path.Combine(StateDirectory, "private");

    private string IndexDirectory => Path.Combine(StateDirectory, "share-index");

    /// <summary>The guest path of container <paramref name="containerId"/>'s shared rootfs (its OCI <c>Root.Path</c>).</summary>
    public static string GuestRootfs(string containerId) => GuestDirectory + containerId + "/rootfs";

    /// <summary>The share of a sandbox whose layout already exists (attached from its state directory).</summary>
    public static SandboxShare Open(string stateDirectory) => new(Path.GetFullPath(stateDirectory));

    /// <summary>Makes the layout in <paramref name="stateDirectory"/> (created if need be); undone if a step fails.</summary>
    /// <exception cref="ShareException">A mount failed (the message names it); nothing is left mounted.</exception>
    public static SandboxShare Create(string stateDirectory)
    {
        var share = new SandboxShare(Path.GetFullPath(stateDirectory));
        Directory.CreateDirectory(share.StateDirectory);
        try
        {
            foreach (string directory in (string[])[share.MountsDirectory, share.SharedDirectory, share.PrivateDirectory, share.IndexDirectory])
            {
                Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                    | UnixFileMode.GroupRead | UnixFileMode.GroupExecute);
            }
            // Private first, then shared: a peer group of its own, so nothing under it propagates to the host's mounts
            // (the state directory's mount may itself be shared, as / is under systemd).
            HostMounts.Bind(share.MountsDirectory, share.MountsDirectory);
            HostMounts.SetPropagation(share.MountsDirectory, Libc.MS_PRIVATE);
            HostMounts.SetPropagation(share.MountsDirectory, Libc.MS_SHARED);
            HostMounts.Bind(share.PrivateDirectory, share.PrivateDirectory);
            HostMounts.SetPropagation(share.PrivateDirectory, Libc.MS_PRIVATE);
            HostMounts.Bind(share.MountsDirectory, share.SharedDirectory);
            HostMounts.SetPropagation(share.SharedDirectory, Libc.MS_SLAVE);
            HostMounts.Remount(share.SharedDirectory, Libc.MS_RDONLY | SharedFlags);
            return share;
        }
        catch
        {
            share.UnmountAll();
            throw;
        }
    }

    /// <summary>
    /// Binds <paramref name="rootfsDirectory"/> at <c>mounts/&lt;id&gt;/rootfs</c> (read-write, nodev, nosuid) and
    /// returns its guest path.
    /// </summary>
    /// <exception cref="ArgumentException">The container has something shared already.</exception>
    /// <exception cref="DirectoryNotFoundException">The rootfs directory does not exist.</exception>
    /// <exception cref="ShareException">The bind failed.</exception>
    public string ShareRootfs(string containerId, string rootfsDirectory)
    {
        if (!Directory.Exists(rootfsDirectory))
        {
            throw new DirectoryNotFoundException($"the rootfs directory {rootfsDirectory} does not exist");
        }
        string containerDirectory = Path.Combine(MountsDirectory, containerId);
        if (File.Exists(IndexFile(containerId)) || HostMounts.Stat(containerDirectory) is not null)
        {
            throw new ArgumentException($"containerId '{containerId}' is already shared in {StateDirectory}", nameof(containerId));
        }
        Record(containerId, containerId + "/rootfs");
        Directory.CreateDirectory(containerDirectory);
        string target = Path.Combine(containerDirectory, "rootfs");
        Directory.CreateDirectory(target);
        BindIntoMounts(rootfsDirectory, target, readOnly: false, isDirectory: true);
        return GuestRootfs(containerId);
    }

    /// <summary>
    /// Binds the host path <paramref name="source"/> (a directory or a file) at
    /// <c>mounts/&lt;id&gt;-&lt;16 hex&gt;-&lt;basename(destination)&gt;</c>, read-only when <paramref name="readOnly"/>
    /// (in two steps through <c>private/</c>, as Kata does), and returns its guest path: the OCI mount's new source.
    /// </summary>
    /// <exception cref="FileNotFoundException">The source does not exist.</exception>
    /// <exception cref="ShareException">The bind failed.</exception>
    public string ShareVolume(string containerId, string source, string destination, bool readOnly)
    {
        bool isDirectory = Directory.Exists(source);
        if (!isDirectory && !File.Exists(source))
        {
            throw new FileNotFoundException($"the bind mount source {source} does not exist on the host", source);
        }
        string baseName = Path.GetFileName(destination.TrimEnd('/'));
        string name = $"{containerId}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8))}-{(baseName.Length == 0 ? "root" : baseName)}";
        Record(containerId, name);
        string target = Path.Combine(MountsDirectory, name);
        CreateTarget(target, isDirectory);
        BindIntoMounts(source, target, readOnly, isDirectory);
        return GuestDirectory + name;
    }

    /// <summary>
    /// Takes everything container <paramref name="containerId"/> had shared out of the share: each mount detached
    /// (no-follow), the empty directory or file that held it removed (never anything with content), the index
    /// deleted. A container with nothing shared is fine.
    /// </summary>
    /// <exception cref="ShareException">A mount would not go.</exception>
    public void Unshare(string containerId)
    {
        string index = IndexFile(containerId);
        if (!File.Exists(index))
        {
            return;
        }
        // The rootfs last: a volume may be mounted below it on the guest's side, never on the host's, but the order
        // of the index is the order of creation and undoing it backwards is the habit that stays right.
        foreach (string name in File.ReadAllLines(index).Where(l => l.Length > 0).Reverse())
        {
            string target = Path.Combine(MountsDirectory, name);
            while (HostMounts.Unmount(target))
            {
                // Stacked binds (a retried share) come off one by one.
            }
            RemoveEmpty(target);
        }
        RemoveEmpty(Path.Combine(MountsDirectory, containerId));
        File.Delete(index);
    }

    /// <summary>Whether container <paramref name="containerId"/> has anything in the share.</summary>
    public bool Has(string containerId) => File.Exists(IndexFile(containerId));

    /// <summary>Detaches every mount of the layout (what is shared, <c>shared/</c>, <c>mounts/</c>, <c>private/</c>); the files stay.</summary>
    /// <exception cref="ShareException">A mount would not go.</exception>
    public void UnmountAll()
    {
        foreach (string directory in (string[])[SharedDirectory, MountsDirectory, PrivateDirectory])
        {
            SharedFs.StateDirectory.UnmountAll(directory);
        }
    }

    /// <summary>
    /// The bind itself, in Kata's two steps: <paramref name="source"/> is bound on a fresh entry in <c>private/</c>
    /// (a private mount: nothing propagates) and remounted there with its flags, then that mount is bound on
    /// <paramref name="target"/> in <c>mounts/</c> (which copies the flags, into <c>shared/</c> too), and the private one
    /// is detached. A remount directly in <c>mounts/</c> would not reach <c>shared/</c> or virtiofsd's namespace.
    /// </summary>
    private void BindIntoMounts(string source, string target, bool readOnly, bool isDirectory)
    {
        string staging = Path.Combine(PrivateDirectory, Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)));
        CreateTarget(staging, isDirectory);
        try
        {
            HostMounts.Bind(source, staging);
            HostMounts.SetPropagation(staging, Libc.MS_PRIVATE);
            HostMounts.Remount(staging, SharedFlags | (readOnly ? Libc.MS_RDONLY : 0));
            HostMounts.Bind(staging, target);
        }
        finally
        {
            while (HostMounts.Unmount(staging))
            {
            }
            RemoveEmpty(staging);
        }
    }

    private static void CreateTarget(string path, bool isDirectory)
    {
        if (isDirectory)
        {
            Directory.CreateDirectory(path);
        }
        else
        {
            using var _ = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
        }
    }

    /// <summary>Removes an empty directory or an empty regular file (what a bind target is once unmounted); anything else stays.</summary>
    private static void RemoveEmpty(string path)
    {
        try
        {
            switch (HostMounts.Stat(path)?.Type)
            {
                case Libc.S_IFDIR:
                    Directory.Delete(path);
                    break;
                case Libc.S_IFREG when new FileInfo(path).Length == 0:
                    File.Delete(path);
                    break;
            }
        }
        catch (IOException)
        {
            // Not empty (or still busy): left for the state directory's deletion, which never crosses a mount.
        }
    }

    private string IndexFile(string containerId) => Path.Combine(IndexDirectory, containerId);

    private void Record(string containerId, string name) => File.AppendAllLines(IndexFile(containerId), [name]);
}
