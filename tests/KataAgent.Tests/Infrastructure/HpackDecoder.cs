using System.Text;

namespace KataAgent.Tests.Infrastructure;

/// <summary>
/// HPACK (RFC 7541) as far as a test needs to read what a server sent: the static and dynamic tables, every field
/// representation and table size updates. String literals must be plain: a Huffman-coded one is refused, so a peer
/// that starts using Huffman coding fails the test loudly instead of being misread. One decoder per direction of a
/// connection, fed every header block in order (the dynamic table is the connection's).
/// </summary>
public sealed class HpackDecoder
{
    private static readonly (string Name, string Value)[] StaticTable =
    [
        (":authority", ""), (":method", "GET"), (":method", "POST"), (":path", "/"), (":path", "/index.html"),
        (":scheme", "http"), (":scheme", "https"), (":status", "200"), (":status", "204"), (":status", "206"),
        (":status", "304"), (":status", "400"), (":status", "404"), (":status", "500"), ("accept-charset", ""),
        ("accept-encoding", "gzip, deflate"), ("accept-language", ""), ("accept-ranges", ""), ("accept", ""),
        ("access-control-allow-origin", ""), ("age", ""), ("allow", ""), ("authorization", ""), ("cache-control", ""),
        ("content-disposition", ""), ("content-encoding", ""), ("content-language", ""), ("content-length", ""),
        ("content-location", ""), ("content-range", ""), ("content-type", ""), ("cookie", ""), ("date", ""),
        ("etag", ""), ("expect", ""), ("expires", ""), ("from", ""), ("host", ""), ("if-match", ""),
        ("if-modified-since", ""), ("if-none-match", ""), ("if-range", ""), ("if-unmodified-since", ""),
        ("last-modified", ""), ("link", ""), ("location", ""), ("max-forwards", ""), ("proxy-authenticate", ""),
        ("proxy-authorization", ""), ("range", ""), ("referer", ""), ("refresh", ""), ("retry-after", ""),
        ("server", ""), ("set-cookie", ""), ("strict-transport-security", ""), ("transfer-encoding", ""),
        ("user-agent", ""), ("vary", ""), ("via", ""), ("www-authenticate", ""),
    ];

    private readonly LinkedList<(string Name, string Value)> _dynamic = new();
    private int _dynamicSize;
    private int _maxDynamicSize = 4096;

    /// <summary>The fields of one complete header block, in order.</summary>
    public IReadOnlyList<(string Name, string Value)> Decode(ReadOnlySpan<byte> block)
    {
        var fields = new List<(string, string)>();
        int position = 0;
        while (position < block.Length)
        {
            byte first = block[position];
            if ((first & 0x80) != 0)
            {
                fields.Add(Entry(ReadInteger(block, ref position, 7)));
            }
            else if ((first & 0xc0) == 0x40)
            {
                var field = ReadLiteral(block, ref position, 6);
                fields.Add(field);
                Insert(field);
            }
            else if ((first & 0xe0) == 0x20)
            {
                _maxDynamicSize = ReadInteger(block, ref position, 5);
                Evict(0);
            }
            else
            {
                // Without indexing (0000) or never indexed (0001): both have a 4-bit name index.
                fields.Add(ReadLiteral(block, ref position, 4));
            }
        }
        return fields;
    }

    private (string Name, string Value) ReadLiteral(ReadOnlySpan<byte> block, ref int position, int prefixBits)
    {
        int index = ReadInteger(block, ref position, prefixBits);
        string name = index == 0 ? ReadString(block, ref position) : Entry(index).Name;
        return (name, ReadString(block, ref position));
    }

    private (string Name, string Value) Entry(int index)
    {
        if (index >= 1 && index <= StaticTable.Length)
        {
            return StaticTable[index - 1];
        }
        int dynamicIndex = index - StaticTable.Length - 1;
        if (index == 0 || dynamicIndex >= _dynamic.Count)
        {
            throw new InvalidDataException($"HPACK index {index} is in neither table ({_dynamic.Count} dynamic entries)");
        }
        return _dynamic.ElementAt(dynamicIndex);
    }

    private void Insert((string Name, string Value) field)
    {
        int size = Encoding.UTF8.GetByteCount(field.Name) + Encoding.UTF8.GetByteCount(field.Value) + 32;
        Evict(size);
        if (size <= _maxDynamicSize)
        {
            _dynamic.AddFirst(field);
            _dynamicSize += size;
        }
    }

    private void Evict(int room)
    {
        while (_dynamic.Count > 0 && _dynamicSize + room > _maxDynamicSize)
        {
            var last = _dynamic.Last!.Value;
            _dynamicSize -= Encoding.UTF8.GetByteCount(last.Name) + Encoding.UTF8.GetByteCount(last.Value) + 32;
            _dynamic.RemoveLast();
        }
    }

    private static string ReadString(ReadOnlySpan<byte> block, ref int position)
    {
        bool huffman = (block[position] & 0x80) != 0;
        int length = ReadInteger(block, ref position, 7);
        if (huffman)
        {
            throw new NotSupportedException("a Huffman-coded HPACK string: this decoder reads plain literals only");
        }
        string text = Encoding.UTF8.GetString(block.Slice(position, length));
        position += length;
        return text;
    }

    private static int ReadInteger(ReadOnlySpan<byte> block, ref int position, int prefixBits)
    {
        int mask = (1 << prefixBits) - 1;
        int value = block[position++] & mask;
        if (value < mask)
        {
            return value;
        }
        int shift = 0;
        byte next;
        do
        {
            next = block[position++];
            value += (next & 0x7f) << shift;
            shift += 7;
        }
        while ((next & 0x80) != 0);
        return value;
    }
}
