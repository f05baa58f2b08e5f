using System.Globalization;
using System.Text;

namespace KataAgent.Linux.Mounts;

/// <summary>
/// The mounts this process sees, read from mountinfo: "id parent maj:min root mountpoint options
/// [optional fields…] - fstype source superoptions", with space, tab, newline and backslash written
/// as octal escapes (\040).
/// </summary>
internal static class MountTable
{
    /// <summary>Every mount in <paramref name="mountinfoPath"/>, in the kernel's order (parents before children).</summary>
    public static IReadOnlyList<MountTableEntry> Read(string mountinfoPath = "/proc/self/mountinfo") =>
        Parse(File.ReadAllText(mountinfoPath));

    /// <summary>The mounts of a mountinfo text; lines that do not have its shape are skipped.</summary>
    public static IReadOnlyList<MountTableEntry> Parse(string mountinfo)
    {
        var entries = new List<MountTableEntry>();
        foreach (string line in mountinfo.Split('\n'))
        {
            int separator = line.IndexOf(" - ", StringComparison.Ordinal);
            if (separator < 0)
            {
                continue;
            }
            string[] before = line[..separator].Split(' ');
            string[] after = line[(separator + 3)..].Split(' ');
            if (before.Length < 6 || after.Length < 3)
            {
                continue;
            }
            string[] device = before[2].Split(':');
            if (device.Length != 2
                || !int.TryParse(device[0], NumberStyles.None, CultureInfo.InvariantCulture, out int major)
                || !int.TryParse(device[1], NumberStyles.None, CultureInfo.InvariantCulture, out int minor))
            {
                continue;
            }
            entries.Add(new MountTableEntry(Unescape(before[4]), major, minor, Unescape(after[0]), Unescape(after[1]), Unescape(after[2])));
        }
        return entries;
    }

    /// <summary>The mount points at <paramref name="directory"/> (a canonical path) or below it, in the kernel's order.</summary>
    public static IReadOnlyList<string> MountPointsAtOrBelow(string directory, string mountinfoPath = "/proc/self/mountinfo")
    {
        string top = directory.TrimEnd('/');
        string prefix = top + "/";
        return [.. Read(mountinfoPath).Select(m => m.MountPoint).Where(point => point == top || point.StartsWith(prefix, StringComparison.Ordinal))];
    }

    /// <summary>The mount on exactly <paramref name="mountPoint"/>, the last one when several are stacked (the one a lookup sees).</summary>
    public static MountTableEntry? FindMountPoint(IReadOnlyList<MountTableEntry> mounts, string mountPoint) =>
        mounts.LastOrDefault(m => m.MountPoint == mountPoint);

    /// <summary>Undoes the kernel's octal escapes, byte by byte, so a UTF-8 name comes back whole.</summary>
    public static string Unescape(string field)
    {
        if (!field.Contains('\\'))
        {
            return field;
        }
        var bytes = new List<byte>(field.Length);
        for (int i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && i + 3 < field.Length && IsOctal(field[i + 1]) && IsOctal(field[i + 2]) && IsOctal(field[i + 3]))
            {
                bytes.Add((byte)(((field[i + 1] - '0') << 6) | ((field[i + 2] - '0') << 3) | (field[i + 3] - '0')));
                i += 3;
            }
            else
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(field[i].ToString()));
            }
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    private static bool IsOctal(char c) => c is >= '0' and <= '7';
}
