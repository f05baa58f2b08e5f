using System.Text;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Logging;

/// <summary>
/// Formats an entry as the console shows it, on one line (a reader of the channel splits on
/// newlines): <c>HH:mm:ss.fff level: category[event] message</c>, UTC, an exception appended.
/// </summary>
internal sealed class LogChannelLogger(string category, LogChannel channel) : ILogger
{
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel))
        {
            return;
        }
        var line = new StringBuilder(128)
            .Append(DateTime.UtcNow.ToString("HH:mm:ss.fff", System.Globalization.CultureInfo.InvariantCulture))
            .Append(' ').Append(Level(logLevel)).Append(": ")
            .Append(category).Append('[').Append(eventId.Id).Append("] ")
            .Append(formatter(state, exception));
        if (exception is not null)
        {
            line.Append(' ').Append(exception);
        }
        line.Replace("\r\n", " | ").Replace('\n', ' ').Replace('\r', ' ');
        channel.Write(line.ToString());
    }

    private static string Level(LogLevel level) => level switch
    {
        LogLevel.Trace => "trce",
        LogLevel.Debug => "dbug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "fail",
        _ => "crit",
    };
}
