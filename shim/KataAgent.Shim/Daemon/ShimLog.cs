using System.Globalization;
using System.Text;

namespace KataAgent.Shim.Daemon;

/// <summary>
/// The shim's log: one line per entry on stderr, in logrus's text form as containerd's Go shims write it
/// (<c>time="…" level=info msg="…" key=value</c>). The daemon's stderr is the bundle's <c>log</c> FIFO, which
/// containerd copies into its own log; <c>start</c> and <c>delete</c> must keep stdout clean, so the log never
/// touches stdout. Debug entries only with <c>-debug</c> (containerd at debug level).
/// </summary>
internal static class ShimLog
{
    private static readonly Lock Gate = new();
    private static TextWriter _writer = Console.Error;
    private static string _fields = "";

    /// <summary>Whether debug entries are written.</summary>
    public static bool DebugEnabled { get; private set; }

    /// <summary>Sets where entries go, the fields every entry carries, and the level.</summary>
    public static void Configure(TextWriter writer, bool debug, params (string Key, string Value)[] fields)
    {
        lock (Gate)
        {
            _writer = writer;
            DebugEnabled = debug;
            _fields = string.Concat(fields.Select(f => " " + f.Key + "=" + Quote(f.Value)));
        }
    }

    /// <summary>A debug entry (written only with <c>-debug</c>).</summary>
    public static void Debug(string message)
    {
        if (DebugEnabled)
            Write("debug", message, null);
    }

    /// <summary>An info entry.</summary>
    public static void Info(string message) => Write("info", message, null);

    /// <summary>A warning entry.</summary>
    public static void Warn(string message, Exception? error = null) => Write("warning", message, error);

    /// <summary>An error entry.</summary>
    public static void Error(string message, Exception? error = null) => Write("error", message, error);

    private static void Write(string level, string message, Exception? error)
    {
        var line = new StringBuilder(128);
        line.Append("time=\"").Append(DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture))
            .Append("\" level=").Append(level).Append(" msg=").Append(Quote(message));
        if (error is not null)
            line.Append(" error=").Append(Quote(error.Message));
        lock (Gate)
        {
            line.Append(_fields);
            try
            {
                _writer.WriteLine(line.ToString());
                _writer.Flush();
            }
            catch (IOException)
            {
                // containerd gone from the log FIFO: the entry is lost, the shim goes on.
            }
        }
    }

    /// <summary>logrus quotes a value that is empty or holds anything beyond a plain word.</summary>
    private static string Quote(string value)
    {
        bool plain = value.Length > 0 && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' or '/' or '@' or '^' or '+');
        if (plain)
            return value;
        var quoted = new StringBuilder(value.Length + 2).Append('"');
        foreach (char c in value)
        {
            _ = c switch
            {
                '"' => quoted.Append("\\\""),
                '\\' => quoted.Append("\\\\"),
                '\n' => quoted.Append("\\n"),
                '\r' => quoted.Append("\\r"),
                '\t' => quoted.Append("\\t"),
                _ when char.IsControl(c) => quoted.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}"),
                _ => quoted.Append(c),
            };
        }
        return quoted.Append('"').ToString();
    }
}
