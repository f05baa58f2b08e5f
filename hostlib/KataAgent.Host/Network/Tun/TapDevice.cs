using System.Text;
using KataAgent.Linux.Interop;
using KataAgent.Linux.Namespaces;
using KataAgent.Linux.Netlink.Uapi;
using Microsoft.Win32.SafeHandles;

namespace KataAgent.Host.Network.Tun;

/// <summary>
/// A tap device made through /dev/net/tun with the flags qemu's virtio-net wants
/// (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, plus IFF_MULTI_QUEUE for several queues). The device
/// lives in the network namespace the fd was opened in, so <see cref="CreateInNamespace"/> opens
/// it there. The queue fds are what qemu gets (-netdev tap,fds=…); a persistent tap outlives them.
/// </summary>
internal sealed unsafe class TapDevice : IDisposable
{
    private const short QemuFlags = LinuxIfTun.IFF_TAP | LinuxIfTun.IFF_NO_PI | LinuxIfTun.IFF_VNET_HDR;

    private TapDevice(string name, IReadOnlyList<SafeFileHandle> queues)
    {
        Name = name;
        Queues = queues;
    }

    /// <summary>The device name the kernel gave (the requested one, or tapN for a "tap%d" pattern).</summary>
    public string Name { get; }

    /// <summary>One fd per queue (CLOEXEC); hand them to qemu, then dispose.</summary>
    public IReadOnlyList<SafeFileHandle> Queues { get; }

    /// <summary>Creates (or attaches to) the tap <paramref name="name"/> in the calling thread's network namespace.</summary>
    /// <param name="name">The device name, or a pattern such as "tap%d".</param>
    /// <param name="queues">Number of queues; more than one sets IFF_MULTI_QUEUE (one fd each).</param>
    /// <param name="persist">TUNSETPERSIST: keep the device after the fds close (delete it with netlink).</param>
    public static TapDevice Create(string name, int queues = 1, bool persist = false)
    {
        if (string.IsNullOrEmpty(name) || Encoding.UTF8.GetByteCount(name) >= LinuxIf.IFNAMSIZ)
        {
            throw new ArgumentException($"\"{name}\" is not a valid tap name (1-{LinuxIf.IFNAMSIZ - 1} bytes)", nameof(name));
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(queues, 1);
        short flags = (short)(QemuFlags | (queues > 1 ? LinuxIfTun.IFF_MULTI_QUEUE : 0));
        var handles = new List<SafeFileHandle>();
        try
        {
            string actual = name;
            for (int i = 0; i < queues; i++)
            {
                int fd = Libc.Open("/dev/net/tun", Libc.O_RDWR | Libc.O_CLOEXEC);
                if (fd < 0)
                {
                    throw LinuxException.FromLastError("open /dev/net/tun");
                }
                var handle = new SafeFileHandle(fd, ownsHandle: true);
                handles.Add(handle);
                var request = new IfReq { ifr_flags = flags };
                WriteName(ref request, actual);
                Libc.Check(Libc.Ioctl(fd, LinuxIfTun.TUNSETIFF, &request), $"TUNSETIFF tap \"{actual}\"");
                actual = ReadName(ref request);
            }
            if (persist)
            {
                Libc.Check(Libc.Ioctl((int)handles[0].DangerousGetHandle(), LinuxIfTun.TUNSETPERSIST, (nint)1), $"TUNSETPERSIST tap \"{actual}\"");
            }
            return new TapDevice(actual, handles);
        }
        catch
        {
            foreach (var handle in handles)
            {
                handle.Dispose();
            }
            throw;
        }
    }

    /// <summary>As <see cref="Create"/>, inside the network namespace at <paramref name="namespacePath"/>.</summary>
    public static TapDevice CreateInNamespace(string namespacePath, string name, int queues = 1, bool persist = false) =>
        NetworkNamespace.Run(namespacePath, () => Create(name, queues, persist));

    /// <summary>Clears or sets persistence through the first queue.</summary>
    public void SetPersistent(bool persist) =>
        Libc.Check(Libc.Ioctl((int)Queues[0].DangerousGetHandle(), LinuxIfTun.TUNSETPERSIST, (nint)(persist ? 1 : 0)), $"TUNSETPERSIST tap \"{Name}\"");

    public void Dispose()
    {
        foreach (var handle in Queues)
        {
            handle.Dispose();
        }
    }

    private static void WriteName(ref IfReq request, string name)
    {
        var bytes = Encoding.UTF8.GetBytes(name);
        for (int i = 0; i < bytes.Length; i++)
        {
            request.ifr_name[i] = bytes[i];
        }
    }

    private static string ReadName(ref IfReq request)
    {
        fixed (byte* name = request.ifr_name)
        {
            var span = new ReadOnlySpan<byte>(name, LinuxIf.IFNAMSIZ);
            int end = span.IndexOf((byte)0);
            return Encoding.UTF8.GetString(end < 0 ? span : span[..end]);
        }
    }
}
