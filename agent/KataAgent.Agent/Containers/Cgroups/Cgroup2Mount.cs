using System.Text;

namespace KataAgent.Agent.Containers.Cgroups;

/// <summary>
/// Finds the cgroup2 hierarchy from mountinfo: /sys/fs/cgroup in a unified guest,
/// /sys/fs/cgroup/unified on a hybrid host.
/// </summary>
public static class Cgroup2Mount
{
    /// <summary>The mount point of the first cgroup2 mount in <paramref name="mountinfoPath"/>, or null.</summary>
    public static string? Find(string mountinfoPath = "/proc/self/mountinfo") =>
        File.Exists(mountinfoPath) ? FindIn(File.ReadAllText(mountinfoPath)) : null;

    /// <summary>
    /// The mount point of the first cgroup2 mount in a mountinfo text, or null. A line is
    /// "id parent maj:min root mountpoint options [optional...] - fstype source superoptions";
    /// the mount point is octal-escaped (\040 for a space).
    /// </summary>
    public static string? FindIn(string mountinfo)
    {
        foreach (string line in mountinfo.Split('\n'))
        {
            int separator = line.IndexOf(" - ", StringComparison.Ordinal);
            if (separator < 0)
            {
                continue;
            }
            string[] before = line[..separator].Split(' ');
            string[] after = line[(separator + 3)..].Split(' ');
            if (before.Length >= 5 && after.Length >= 1 && after[0] == "cgroup2")
            {
                return Unescape(before[4]);
            }
        }
        return null;
    }

    private static string Unescape(string field)
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
