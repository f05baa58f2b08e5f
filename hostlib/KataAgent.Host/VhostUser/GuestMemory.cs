using KataAgent.Linux.Interop;

namespace KataAgent.Host.VhostUser;

/// <summary>
/// Guest RAM as the last SET_MEM_TABLE described it, mapped MAP_SHARED: translation of guest-physical addresses
/// (descriptor buffers) and of the front-end's virtual addresses (ring addresses) to ours, after
/// <c>vu_gpa_to_va</c> / <c>qva_to_va</c> in qemu's libvhost-user. Every SET_MEM_TABLE replaces the whole table: a
/// new instance is mapped, and the old one disposed (views invalidated, then unmapped) while the device is paused.
/// </summary>
internal sealed unsafe class GuestMemory : IDisposable
{
    private readonly GuestMemoryRegion[] _regions;
    private int _disposed;

    private GuestMemory(GuestMemoryRegion[] regions) => _regions = regions;

    public IReadOnlyList<GuestMemoryRegion> Regions => _regions;

    /// <summary>
    /// Maps <paramref name="regions"/> from <paramref name="fds"/> (one each, same order). The fds stay the caller's:
    /// a mapping keeps its file alive, so they can be closed once this returns.
    /// </summary>
    /// <exception cref="ArgumentException">A region is empty, wraps around, or overlaps another in guest-physical or front-end space.</exception>
    /// <exception cref="LinuxException">mmap refused a region (nothing stays mapped).</exception>
    public static GuestMemory Map(IReadOnlyList<MemoryRegionDescription> regions, IReadOnlyList<SafeFileDescriptor> fds)
    {
        if (regions.Count != fds.Count)
        {
            throw new ArgumentException($"{regions.Count} regions came with {fds.Count} fds", nameof(fds));
        }
        for (int i = 0; i < regions.Count; i++)
        {
            Validate(regions, i);
        }
        var mapped = new List<GuestMemoryRegion>(regions.Count);
        try
        {
            for (int i = 0; i < regions.Count; i++)
            {
                var region = regions[i];
                nuint length = (nuint)(region.Size + region.MmapOffset);
                bool referenced = false;
                try
                {
                    fds[i].DangerousAddRef(ref referenced);
                    nint address = Libc.Mmap(0, length, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED | Libc.MAP_NORESERVE,
                        (int)fds[i].DangerousGetHandle(), 0);
                    if (address == Libc.MAP_FAILED)
                    {
                        throw LinuxException.FromLastError($"mmap of guest memory region {i} ({Describe(region)})");
                    }
                    mapped.Add(new GuestMemoryRegion(region, address, length));
                }
                finally
                {
                    if (referenced)
                    {
                        fds[i].DangerousRelease();
                    }
                }
            }
            return new GuestMemory([.. mapped]);
        }
        catch
        {
            Unmap(mapped);
            throw;
        }
    }

    /// <summary>The region's bytes in this process, or null unless all of [<paramref name="address"/>, +<paramref name="length"/>) lies in one region of the front-end's space.</summary>
    public byte* TranslateUser(ulong address, ulong length)
    {
        foreach (var region in _regions)
        {
            ulong offset = address - region.Description.UserAddress;
            if (offset < region.Size && length <= region.Size - offset)
            {
                return region.Host + offset;
            }
        }
        return null;
    }

    /// <summary>As <see cref="TranslateUser"/> for a guest-physical address.</summary>
    public byte* TranslateGuest(ulong address, ulong length)
    {
        foreach (var region in _regions)
        {
            ulong offset = address - region.Description.GuestPhysicalAddress;
            if (offset < region.Size && length <= region.Size - offset)
            {
                return region.Host + offset;
            }
        }
        return null;
    }

    /// <summary>
    /// Appends views of the guest-physical range [<paramref name="address"/>, +<paramref name="length"/>) to
    /// <paramref name="segments"/>: one per region (or window) it passes through. False, with nothing appended, when
    /// any byte of it is outside guest memory.
    /// </summary>
    public bool TryAppendSegments(ulong address, uint length, List<Memory<byte>> segments)
    {
        int first = segments.Count;
        ulong remaining = length;
        ulong next = address;
        while (remaining > 0)
        {
            var region = FindGuest(next);
            if (region is null)
            {
                segments.RemoveRange(first, segments.Count - first);
                return false;
            }
            var view = region.Slice(next - region.Description.GuestPhysicalAddress, remaining);
            segments.Add(view);
            next += (ulong)view.Length;
            remaining -= (ulong)view.Length;
        }
        return true;
    }

    /// <summary>Invalidates every view, then unmaps. Idempotent.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            Unmap(_regions);
        }
    }

    private GuestMemoryRegion? FindGuest(ulong address)
    {
        foreach (var region in _regions)
        {
            if (region.ContainsGuest(address))
            {
                return region;
            }
        }
        return null;
    }

    private static void Validate(IReadOnlyList<MemoryRegionDescription> regions, int index)
    {
        var region = regions[index];
        if (region.Size == 0)
        {
            throw new ArgumentException($"guest memory region {index} ({Describe(region)}) is empty", nameof(regions));
        }
        if (region.GuestPhysicalAddress + region.Size < region.GuestPhysicalAddress
            || region.UserAddress + region.Size < region.UserAddress
            || region.MmapOffset + region.Size < region.MmapOffset
            || region.MmapOffset + region.Size > long.MaxValue)
        {
            throw new ArgumentException($"guest memory region {index} ({Describe(region)}) wraps around the address space", nameof(regions));
        }
        for (int other = 0; other < index; other++)
        {
            var earlier = regions[other];
            if (Overlap(region.GuestPhysicalAddress, region.Size, earlier.GuestPhysicalAddress, earlier.Size)
                || Overlap(region.UserAddress, region.Size, earlier.UserAddress, earlier.Size))
            {
                throw new ArgumentException($"guest memory regions {other} ({Describe(earlier)}) and {index} ({Describe(region)}) overlap", nameof(regions));
            }
        }
    }

    private static bool Overlap(ulong start, ulong size, ulong otherStart, ulong otherSize) =>
        start < otherStart + otherSize && otherStart < start + size;

    private static string Describe(MemoryRegionDescription region) =>
        $"gpa 0x{region.GuestPhysicalAddress:x} size 0x{region.Size:x} uaddr 0x{region.UserAddress:x} offset 0x{region.MmapOffset:x}";

    private static void Unmap(IEnumerable<GuestMemoryRegion> regions)
    {
        foreach (var region in regions)
        {
            region.Invalidate();
            Libc.Munmap(region.Mapping, region.MappingLength);
        }
    }
}
