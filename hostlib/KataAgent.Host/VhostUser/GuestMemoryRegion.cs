namespace KataAgent.Host.VhostUser;

/// <summary>
/// One SET_MEM_TABLE region mapped into this process: <c>mmap(size + mmap_offset)</c> of its fd, MAP_SHARED, so the
/// guest's bytes and ours are the same pages; the region starts <c>mmap_offset</c> into the mapping.
/// </summary>
internal sealed unsafe class GuestMemoryRegion
{
    private readonly GuestMemoryWindow[] _windows;

    public GuestMemoryRegion(MemoryRegionDescription description, nint mapping, nuint mappingLength)
    {
        Description = description;
        Mapping = mapping;
        MappingLength = mappingLength;
        Host = (byte*)mapping + description.MmapOffset;
        int count = (int)((description.Size + GuestMemoryWindow.MaxLength - 1) / GuestMemoryWindow.MaxLength);
        _windows = new GuestMemoryWindow[count];
        for (int i = 0; i < count; i++)
        {
            ulong start = (ulong)i * GuestMemoryWindow.MaxLength;
            _windows[i] = new GuestMemoryWindow(Host + start, (int)Math.Min(GuestMemoryWindow.MaxLength, description.Size - start));
        }
    }

    public MemoryRegionDescription Description { get; }

    /// <summary>What mmap returned, for munmap.</summary>
    public nint Mapping { get; }

    public nuint MappingLength { get; }

    /// <summary>The region's first byte in this process.</summary>
    public byte* Host { get; }

    public ulong Size => Description.Size;

    public bool ContainsGuest(ulong address) => address - Description.GuestPhysicalAddress < Description.Size;

    public bool ContainsUser(ulong address) => address - Description.UserAddress < Description.Size;

    /// <summary>
    /// A view of the region from <paramref name="offset"/>, as long as <paramref name="length"/> allows but ending at
    /// the region's or its window's end: the caller continues from there.
    /// </summary>
    public Memory<byte> Slice(ulong offset, ulong length)
    {
        var window = _windows[offset / GuestMemoryWindow.MaxLength];
        int inWindow = (int)(offset % GuestMemoryWindow.MaxLength);
        int available = window.Length - inWindow;
        return window.Slice(inWindow, (int)Math.Min((ulong)available, length));
    }

    /// <summary>Every view of the region fails from now on; called before the munmap.</summary>
    public void Invalidate()
    {
        foreach (var window in _windows)
        {
            window.Invalidate();
        }
    }
}
