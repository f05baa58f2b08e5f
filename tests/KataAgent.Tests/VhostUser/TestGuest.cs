using KataAgent.Host.VhostUser;
using KataAgent.Linux.Interop;

namespace KataAgent.Tests.VhostUser;

/// <summary>
/// Guest RAM as qemu would share it: a memfd holding two regions that are contiguous in guest-physical space
/// (0-1 MiB, 1-2 MiB) but not in the file (the second starts at 1.5 MiB, its mmap_offset) nor in qemu's address
/// space (the user addresses are far apart), so every translation the server makes is checked. The test maps the
/// memfd too and plays the driver through it.
/// </summary>
internal sealed unsafe class TestGuest : IDisposable
{
    public const ulong RegionSize = 0x10_0000;
    public const ulong SecondRegionFileOffset = 0x18_0000;
    public const ulong FileSize = SecondRegionFileOffset + RegionSize;
    public const ulong FirstUserAddress = 0x7f00_0000_0000;
    public const ulong SecondUserAddress = 0x7f00_4000_0000;

    private readonly SafeFileDescriptor _memfd;
    private readonly byte* _map;

    public TestGuest()
    {
        Name = $"vhost-test-{Guid.NewGuid():N}";
        _memfd = SafeFileDescriptor.Check(Libc.MemfdCreate(Name, Libc.MFD_CLOEXEC), "memfd_create");
        Libc.Check(Libc.Ftruncate(Fd, (long)FileSize), "ftruncate");
        nint map = Libc.Mmap(0, (nuint)FileSize, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, Fd, 0);
        if (map == Libc.MAP_FAILED)
        {
            throw LinuxException.FromLastError("mmap");
        }
        _map = (byte*)map;
    }

    /// <summary>The memfd's name: /proc/self/fd and /proc/self/maps show it as <c>/memfd:NAME</c>.</summary>
    public string Name { get; }

    public int Fd => (int)_memfd.DangerousGetHandle();

    public static MemoryRegionDescription[] Regions =>
    [
        new(0, RegionSize, FirstUserAddress, 0),
        new(RegionSize, RegionSize, SecondUserAddress, SecondRegionFileOffset),
    ];

    /// <summary>SET_MEM_TABLE's regions, each with the memfd (the server receives a copy per region, as from qemu).</summary>
    public (MemoryRegionDescription Region, int Fd)[] Table() => Regions.Select(r => (r, Fd)).ToArray();

    /// <summary>
    /// The table after a DIMM hot-add: the same two regions of this memfd (qemu passes them again, the server maps
    /// them anew) and <paramref name="dimm"/>'s first region at 4 GiB.
    /// </summary>
    public (MemoryRegionDescription Region, int Fd)[] TableWith(TestGuest dimm) =>
        [.. Table(), (new MemoryRegionDescription(0x1_0000_0000, RegionSize, 0x7f00_8000_0000, 0), dimm.Fd)];

    public ulong UserAddress(ulong guestAddress) => guestAddress < RegionSize
        ? FirstUserAddress + guestAddress
        : SecondUserAddress + (guestAddress - RegionSize);

    /// <summary>The test's view of guest-physical <paramref name="guestAddress"/>.</summary>
    public byte* Host(ulong guestAddress) => guestAddress < RegionSize
        ? _map + guestAddress
        : _map + SecondRegionFileOffset + (guestAddress - RegionSize);

    public void Write(ulong guestAddress, ReadOnlySpan<byte> bytes)
    {
        for (int i = 0; i < bytes.Length; i++)
        {
            *Host(guestAddress + (ulong)i) = bytes[i];
        }
    }

    public byte[] Read(ulong guestAddress, int length)
    {
        var bytes = new byte[length];
        for (int i = 0; i < length; i++)
        {
            bytes[i] = *Host(guestAddress + (ulong)i);
        }
        return bytes;
    }

    public void Clear(ulong guestAddress, int length) => Write(guestAddress, new byte[length]);

    /// <summary>Copies all of guest RAM into <paramref name="other"/> (a DIMM hot-add's new table over the same contents).</summary>
    public void CopyTo(TestGuest other) => new Span<byte>(_map, (int)FileSize).CopyTo(new Span<byte>(other._map, (int)FileSize));

    public void Dispose()
    {
        Libc.Munmap((nint)_map, (nuint)FileSize);
        _memfd.Dispose();
    }
}
