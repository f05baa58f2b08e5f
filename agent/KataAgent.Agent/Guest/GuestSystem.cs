using System.Globalization;
using KataAgent.Agent.Interop;
using KataAgent.Linux.Interop;
using KataAgent.Protocols.Agent;

namespace KataAgent.Agent.Guest;

/// <summary>
/// The guest-wide facts and knobs the API exposes: memory block size, hotplug probe, clock,
/// entropy. Paths are injectable so tests can point at a fake sysfs.
/// </summary>
public sealed unsafe class GuestSystem(string sysfsMemoryDirectory = "/sys/devices/system/memory", string randomDevice = "/dev/random")
{
    /// <summary>
    /// Device and storage handlers this agent has. Reported in AgentDetails; they must stay true:
    /// a runtime decides what to send from them. Empty until the handlers exist.
    /// </summary>
    public static IReadOnlyList<string> DeviceHandlers { get; } = [];

    /// <summary>
    /// Storage drivers this agent handles (see <see cref="DeviceHandlers"/>): <c>image_guest_pull</c> only in a guest
    /// image built with its helper (<c>kata-rootfs build --guest-pull</c>), since elsewhere every such storage fails.
    /// </summary>
    public static IReadOnlyList<string> StorageHandlers =>
        Storage.StorageDrivers.All
            .Where(name => name != Storage.StorageDrivers.ImageGuestPull || File.Exists(Protocols.Guest.ImagePull.GuestPullHelper.Path))
            .ToArray();

    public AgentDetails AgentDetails()
    {
        var details = new AgentDetails
        {
            Version = AgentVersion.Agent,
            InitDaemon = Environment.ProcessId == 1,
            SupportsSeccomp = true,
        };
        details.DeviceHandlers.AddRange(DeviceHandlers);
        details.StorageHandlers.AddRange(StorageHandlers);
        return details;
    }

    /// <summary>Memory hotplug block size from sysfs (a hex number); 0 when the kernel has no memory hotplug.</summary>
    public ulong MemoryBlockSizeBytes()
    {
        string file = Path.Combine(sysfsMemoryDirectory, "block_size_bytes");
        if (!File.Exists(file))
        {
            return 0;
        }
        string text = File.ReadAllText(file).Trim();
        if (!ulong.TryParse(text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong size))
        {
            throw new InvalidDataException($"{file}: '{text}' is not a hexadecimal size");
        }
        return size;
    }

    /// <summary>True when the kernel offers /sys/devices/system/memory/probe (probe-style memory hotplug).</summary>
    public bool SupportsMemoryHotplugProbe() => File.Exists(Path.Combine(sysfsMemoryDirectory, "probe"));

    /// <summary>Sets the system clock (needs CAP_SYS_TIME).</summary>
    public void SetClock(long seconds, long microseconds)
    {
        var time = new AgentLibc.TimeVal { Seconds = seconds, Microseconds = microseconds };
        Libc.Check(AgentLibc.SetTimeOfDay(&time, null), "settimeofday");
    }

    /// <summary>
    /// Mixes <paramref name="data"/> into the kernel's input pool, credits it as entropy and forces
    /// a CRNG reseed, so a cloned VM stops sharing its template's random stream. Needs CAP_SYS_ADMIN.
    /// </summary>
    public void Reseed(ReadOnlySpan<byte> data)
    {
        int fd = Libc.Check(Libc.Open(randomDevice, Libc.O_WRONLY | Libc.O_CLOEXEC), $"open {randomDevice}");
        try
        {
            // struct rand_pool_info { int entropy_count; int buf_size; __u32 buf[]; }
            byte[] info = new byte[8 + data.Length];
            fixed (byte* p = info)
            {
                *(int*)p = checked(data.Length * 8);
                *(int*)(p + 4) = data.Length;
                data.CopyTo(new Span<byte>(p + 8, data.Length));
                Libc.Check(Libc.Ioctl(fd, Libc.RNDADDENTROPY, p), "ioctl(RNDADDENTROPY)");
            }
            Libc.Check(Libc.Ioctl(fd, Libc.RNDRESEEDCRNG, 0), "ioctl(RNDRESEEDCRNG)");
        }
        finally
        {
            Libc.Close(fd);
        }
    }
}
