using System.Buffers.Binary;
using System.Text;

namespace KataAgent.Agent.Guest.Swap;

/// <summary>
/// The Linux swap area header (version 1, what mkswap writes), so the agent needs no mkswap: the first
/// page holds 1024 bytes left for a boot block, then <c>version</c> (1), <c>last_page</c>,
/// <c>nr_badpages</c> (0), a 16-byte UUID and a 16-byte label, all in the CPU's byte order, and the page
/// ends with the signature "SWAPSPACE2". The kernel (mm/swapfile.c) wants at least 10 pages.
/// </summary>
public static class SwapHeader
{
    /// <summary>The version 1 signature at the end of the first page.</summary>
    public static ReadOnlySpan<byte> Signature => "SWAPSPACE2"u8;

    /// <summary>The smallest area mkswap accepts, in pages.</summary>
    public const int MinimumPages = 10;

    private const int InfoOffset = 1024;

    /// <summary>Whether <paramref name="firstPage"/> (one page) ends with the swap signature.</summary>
    public static bool HasSignature(ReadOnlySpan<byte> firstPage) =>
        firstPage.Length >= Signature.Length && firstPage[^Signature.Length..].SequenceEqual(Signature);

    /// <summary>The first page of a swap area of <paramref name="sizeBytes"/> for pages of <paramref name="pageSize"/> bytes.</summary>
    public static byte[] Build(long sizeBytes, int pageSize, Guid uuid, string label = "")
    {
        long pages = sizeBytes / pageSize;
        if (pages < MinimumPages)
        {
            throw new ArgumentOutOfRangeException(nameof(sizeBytes), $"{sizeBytes} bytes is less than the {MinimumPages} pages of {pageSize} bytes a swap area needs");
        }
        // last_page is a __u32: a larger area is cut to what the header can say, as mkswap does.
        uint lastPage = (uint)Math.Min(pages - 1, uint.MaxValue);
        byte[] page = new byte[pageSize];
        var info = page.AsSpan(InfoOffset);
        WriteUInt32(info, 1);
        WriteUInt32(info[4..], lastPage);
        WriteUInt32(info[8..], 0);
        uuid.TryWriteBytes(info.Slice(12, 16), bigEndian: true, out _);
        byte[] name = Encoding.UTF8.GetBytes(label);
        name.AsSpan(0, Math.Min(name.Length, 15)).CopyTo(info.Slice(28, 16));
        Signature.CopyTo(page.AsSpan(pageSize - Signature.Length));
        return page;
    }

    /// <summary>The area's last usable page as a header says it, in the CPU's byte order.</summary>
    public static uint LastPage(ReadOnlySpan<byte> firstPage) => ReadUInt32(firstPage[(InfoOffset + 4)..]);

    private static void WriteUInt32(Span<byte> target, uint value)
    {
        if (BitConverter.IsLittleEndian)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(target, value);
        }
        else
        {
            BinaryPrimitives.WriteUInt32BigEndian(target, value);
        }
    }

    private static uint ReadUInt32(ReadOnlySpan<byte> source) =>
        BitConverter.IsLittleEndian ? BinaryPrimitives.ReadUInt32LittleEndian(source) : BinaryPrimitives.ReadUInt32BigEndian(source);
}
