using System.Text;

namespace KataAgent.Host.SharedFs;

/// <summary>
/// The mount points this process sees, from mountinfo ("id parent maj:min root mountpoint options …"), with the
/// kernel's octal escapes (\040 for a space) undone.
/// </summary>
internal static class MountInfo
{
    /// <summary>Every mount point, in the kernel's order (parents before children); a stacked one appears once per mount.</summary>
    public static IReadOnlyList<string> MountPoints(string mountinfoPath = "/proc/self/mountinfo") =>
        [.. File.ReadAllLines(mountinfoPath).Select(line => line.Split(' ')).Where(fields => fields.Length > 5).Select(fields => Unescape(fields[4]))];

    /// <summary>The mount points at <paramref name="directory"/> (a canonical path) or below it.</summary>
    public static IReadOnlyList<string> AtOrBelow(string directory, string mountinfoPath = "/proc/self/mountinfo")
    {
        string prefix = directory.TrimEnd('/') + "/";
        return [.. MountPoints(mountinfoPath).Where(point => point == directory.TrimEnd('/') || point.StartsWith(prefix, StringComparison.Ordinal))];
    }

    /// <summary>Undoes the kernel's octal escapes byte by byte, so a UTF-8 name comes back whole.</summary>
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
        return Encoding.UTF8.GetString([.. bytes]);
    }

    private static bool IsOctal(char c) => c is >= '0' and <= '7';
}
