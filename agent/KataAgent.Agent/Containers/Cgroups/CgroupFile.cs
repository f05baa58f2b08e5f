using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using KataAgent.Agent.Interop;
using KataAgent.Linux.Interop;

namespace KataAgent.Agent.Containers.Cgroups;

/// <summary>
/// Reads and writes cgroup interface files. Writes go through open(2)/write(2) without O_CREAT:
/// cgroupfs cannot create files, and a missing file means the controller (or kernel feature) is
/// not available, which becomes a <see cref="CgroupException"/> naming both.
/// </summary>
internal static unsafe class CgroupFile
{
    private const int O_TRUNC = 0x200;

    /// <summary>The controller owning <paramref name="fileName"/> ("memory.swap.max" → "memory"); null for cgroup.* files.</summary>
    public static string? ControllerOf(string fileName)
    {
        int dot = fileName.IndexOf('.');
        string prefix = dot < 0 ? fileName : fileName[..dot];
        return prefix == "cgroup" ? null : prefix;
    }

    /// <summary>Writes <paramref name="value"/> to <paramref name="directory"/>/<paramref name="fileName"/> in one write(2).</summary>
    public static void Write(string directory, string fileName, string value) => WriteEach(directory, fileName, [value]);

    /// <summary>
    /// Writes each value with its own write(2) through one descriptor. The kernel parses every
    /// write separately (io.max takes one device per write); a regular file (a test's fake tree)
    /// ends up holding the values one after the other.
    /// </summary>
    public static void WriteEach(string directory, string fileName, IReadOnlyList<string> values)
    {
        string path = Path.Combine(directory, fileName);
        int fd = Libc.Open(path, Libc.O_WRONLY | Libc.O_CLOEXEC | O_TRUNC);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw OpenFailure(directory, fileName, path, errno);
        }
        try
        {
            foreach (string value in values)
            {
                byte[] bytes = Encoding.UTF8.GetBytes(value);
                fixed (byte* p = bytes)
                {
                    nint written;
                    do
                    {
                        written = Libc.Write(fd, p, (nuint)bytes.Length);
                    }
                    while (written < 0 && Marshal.GetLastPInvokeError() == Errno.EINTR);
                    if (written < 0)
                    {
                        int errno = Marshal.GetLastPInvokeError();
                        var cause = new LinuxException($"write {path}", errno);
                        throw new CgroupException($"writing '{value}' to {path} failed: {cause.Message}", path, ControllerOf(fileName), errno, cause);
                    }
                    if (written != bytes.Length)
                    {
                        throw new CgroupException($"writing '{value}' to {path}: short write ({written} of {bytes.Length} bytes)", path, ControllerOf(fileName));
                    }
                }
            }
        }
        finally
        {
            Libc.Close(fd);
        }
    }

    /// <summary>True when the interface file exists.</summary>
    public static bool Exists(string directory, string fileName) => File.Exists(Path.Combine(directory, fileName));

    /// <summary>The file's text, or null when it (or its cgroup) does not exist.</summary>
    public static string? TryRead(string directory, string fileName)
    {
        string path = Path.Combine(directory, fileName);
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (IOException e) when (e.HResult == Errno.ENODEV)
        {
            // A cgroup removed while we read it.
            return null;
        }
    }

    /// <summary>The file's text; a missing file is a <see cref="CgroupException"/> naming the controller.</summary>
    public static string Read(string directory, string fileName)
    {
        string path = Path.Combine(directory, fileName);
        return TryRead(directory, fileName) ?? throw OpenFailure(directory, fileName, path, Errno.ENOENT);
    }

    /// <summary>A single unsigned number file ("max" → <paramref name="max"/>); null when missing or unparsable.</summary>
    public static ulong? TryReadUInt64(string directory, string fileName, ulong max = ulong.MaxValue)
    {
        string? text = TryRead(directory, fileName)?.Trim();
        if (text is null)
        {
            return null;
        }
        if (text == "max")
        {
            return max;
        }
        return ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out ulong value) ? value : null;
    }

    /// <summary>
    /// Parses a flat-keyed file ("key value" per line: cpu.stat, memory.stat, memory.events).
    /// Lines that are not exactly a key and an unsigned number are skipped.
    /// </summary>
    public static Dictionary<string, ulong> ParseFlatKeyed(string text)
    {
        var result = new Dictionary<string, ulong>(StringComparer.Ordinal);
        foreach (string line in text.Split('\n'))
        {
            string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (parts.Length == 2 && ulong.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out ulong value))
            {
                result[parts[0]] = value;
            }
        }
        return result;
    }

    /// <summary>A flat-keyed file's entries, or null when the file is missing.</summary>
    public static Dictionary<string, ulong>? TryReadFlatKeyed(string directory, string fileName) =>
        TryRead(directory, fileName) is { } text ? ParseFlatKeyed(text) : null;

    /// <summary>The process ids listed in a cgroup.procs text.</summary>
    public static List<int> ParsePids(string text)
    {
        var pids = new List<int>();
        foreach (string line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (int.TryParse(line, NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
            {
                pids.Add(pid);
            }
        }
        return pids;
    }

    /// <summary>rmdir(2); returns the errno (0 on success).</summary>
    public static int RemoveDirectory(string path) => AgentLibc.RmDir(path) == 0 ? 0 : Marshal.GetLastPInvokeError();

    private static CgroupException OpenFailure(string directory, string fileName, string path, int errno)
    {
        string? controller = ControllerOf(fileName);
        if (errno == Errno.ENOENT)
        {
            if (!Directory.Exists(directory))
            {
                return new CgroupException($"cgroup {directory} does not exist (opening {path})", path, controller, errno);
            }
            return controller is null
                ? new CgroupException($"{path} does not exist: this kernel lacks the cgroup v2 feature '{fileName}'", path, null, errno)
                : new CgroupException(
                    $"{path} does not exist: the cgroup v2 '{controller}' controller is not available for this cgroup " +
                    "(missing from the kernel or not enabled in the parent's cgroup.subtree_control)",
                    path, controller, errno);
        }
        var cause = new LinuxException($"open {path}", errno);
        return new CgroupException($"opening {path} failed: {cause.Message}", path, controller, errno, cause);
    }

    /// <summary>mkdir(2) with mode 0755; returns the errno (0 on success).</summary>
    public static int MakeDirectory(string path) => AgentLibc.MkDir(path, 0x1ED) == 0 ? 0 : Marshal.GetLastPInvokeError();
}
