using System.Text;

namespace KataAgent.Image.Layers;

/// <summary>
/// The xattrs of one tar entry from the raw bytes of its headers (<see cref="TarHeaderRecorder"/>): the PAX records
/// <c>SCHILY.xattr.NAME=VALUE</c> (GNU tar, Go's archive/tar, umoci, docker) with VALUE's bytes as written, and
/// libarchive's <c>LIBARCHIVE.xattr.NAME=base64</c>.
/// </summary>
internal static class PaxXattrs
{
    private const int Block = 512;
    private const string Schily = "SCHILY.xattr.";
    private const string Libarchive = "LIBARCHIVE.xattr.";

    /// <summary>
    /// Parses the headers that start at <paramref name="offset"/> of <paramref name="headers"/> and end with the
    /// entry's own header block at its end; false when the bytes are not laid out so (the caller refuses the layer).
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> headers, int offset, List<KeyValuePair<string, byte[]>> xattrs)
    {
        while (true)
        {
            if (offset < 0 || headers.Length - offset < Block)
                return false;
            var header = headers.Slice(offset, Block);
            byte type = header[156];
            if (type is not ((byte)'x' or (byte)'X' or (byte)'L' or (byte)'K'))
                return offset + Block == headers.Length;
            if (!TryParseSize(header.Slice(124, 12), out long size) || size > headers.Length - offset - Block)
                return false;
            if (type is (byte)'x' or (byte)'X' && !TryParseRecords(headers.Slice(offset + Block, (int)size), xattrs))
                return false;
            offset += Block + (int)((size + Block - 1) / Block * Block);
        }
    }

    private static bool TryParseRecords(ReadOnlySpan<byte> data, List<KeyValuePair<string, byte[]>> xattrs)
    {
        while (!data.IsEmpty)
        {
            if (data[0] == 0)
                return true; // padding some writers leave inside the size
            int space = data.IndexOf((byte)' ');
            if (space <= 0 || !int.TryParse(data[..space], out int length) || length <= space + 2 || length > data.Length)
                return false;
            var record = data[(space + 1)..length];
            if (record[^1] != (byte)'\n')
                return false;
            record = record[..^1];
            int equals = record.IndexOf((byte)'=');
            if (equals < 0)
                return false;
            string key = Encoding.UTF8.GetString(record[..equals]);
            var value = record[(equals + 1)..];
            if (key.StartsWith(Schily, StringComparison.Ordinal) && key.Length > Schily.Length)
            {
                Set(xattrs, key[Schily.Length..], value.ToArray());
            }
            else if (key.StartsWith(Libarchive, StringComparison.Ordinal) && key.Length > Libarchive.Length)
            {
                string name = Uri.UnescapeDataString(key[Libarchive.Length..]);
                string encoded = Encoding.ASCII.GetString(value).TrimEnd('=');
                encoded = encoded.PadRight(encoded.Length + (4 - encoded.Length % 4) % 4, '=');
                try
                {
                    Set(xattrs, name, Convert.FromBase64String(encoded));
                }
                catch (FormatException)
                {
                    return false;
                }
            }
            data = data[length..];
        }
        return true;
    }

    // A later record for the same name replaces the earlier one, as PAX says.
    private static void Set(List<KeyValuePair<string, byte[]>> xattrs, string name, byte[] value)
    {
        int index = xattrs.FindIndex(x => x.Key == name);
        if (index >= 0)
            xattrs[index] = new(name, value);
        else
            xattrs.Add(new(name, value));
    }

    private static bool TryParseSize(ReadOnlySpan<byte> field, out long size)
    {
        size = 0;
        if ((field[0] & 0x80) != 0)
        {
            // GNU base-256: big-endian two's complement in the remaining bits.
            for (int i = 1; i < field.Length; i++)
            {
                if (size > (long.MaxValue >> 8))
                    return false;
                size = (size << 8) | field[i];
            }
            return (field[0] & 0x40) == 0;
        }
        foreach (byte b in field)
        {
            if (b is 0 or (byte)' ')
            {
                if (size > 0 || b == 0)
                    break;
                continue;
            }
            if (b is < (byte)'0' or > (byte)'7')
                return false;
            size = size * 8 + (b - '0');
        }
        return true;
    }
}
