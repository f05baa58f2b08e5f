using KataAgent.Agent.Config;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace KataAgent.Agent.Logging;

/// <summary>
/// The agent's logging: one line per entry on stderr (the guest's console) and to the <see cref="LogChannel"/>, at
/// the configured level, frameworks at warning at least. Set up once, in the agent's core; the web host, when it is
/// built, logs through the same factory.
/// </summary>
internal static class AgentLogging
{
    /// <summary>Adds the console and <paramref name="channel"/> providers and the agent's filter to <paramref name="logging"/>.</summary>
    public static void Configure(ILoggingBuilder logging, AgentConfig config, LogChannel channel)
    {
        logging.ClearProviders();
        logging.AddSimpleConsole(options =>
        {
            options.SingleLine = true;
            options.TimestampFormat = "HH:mm:ss.fff ";
            options.UseUtcTimestamp = true;
        });
        logging.Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        logging.AddProvider(new LogChannelLoggerProvider(channel));
        logging.AddFilter((category, level) =>
            // Hosting diagnostics logging, when enabled, makes ASP.NET create an Activity per
            // request, whose static constructor needs the CRNG: early in a guest's boot that can
            // fail every request. The agent logs its own RPC failures instead.
            // Grpc.AspNetCore logs every status it sends at information; the agent logs each failure
            // once itself (AgentErrorMapping, and the binder for requests that do not parse).
            category != "Microsoft.AspNetCore.Hosting.Diagnostics"
            && level >= (IsFramework(category) ? Max(config.LogLevel, LogLevel.Warning) : config.LogLevel));
    }

    private static LogLevel Max(LogLevel a, LogLevel b) => a > b ? a : b;

    private static bool IsFramework(string? category) =>
        category is not null && (category.StartsWith("Microsoft.", StringComparison.Ordinal) || category.StartsWith("Grpc.", StringComparison.Ordinal));
}
