using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Logging;

/// <summary>Feeds every log entry, one line each, to the <see cref="LogChannel"/>; the logging filters decide what gets here.</summary>
[ProviderAlias("LogChannel")]
public sealed class LogChannelLoggerProvider(LogChannel channel) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new LogChannelLogger(categoryName, channel);

    public void Dispose()
    {
    }
}
