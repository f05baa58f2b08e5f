using System.Globalization;
using KataAgent.Linux.Addressing;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Config;

/// <summary>Builds <see cref="AgentConfig"/> from the kernel command line, environment and flags.</summary>
public static class AgentConfigLoader
{
    public const string ServerAddrEnvironmentVariable = "KATA_AGENT_SERVER_ADDR";
    public const string LogLevelEnvironmentVariable = "KATA_AGENT_LOG_LEVEL";
    public const string SysfsRootEnvironmentVariable = "KATA_AGENT_SYSFS_ROOT";

    /// <summary>
    /// Loads the configuration. <paramref name="kernelCommandLine"/> is the text of /proc/cmdline
    /// (null when it cannot be read). Throws <see cref="AgentConfigException"/> for a bad value.
    /// </summary>
    public static AgentConfig Load(AgentArguments arguments, Func<string, string?> environment, string? kernelCommandLine)
    {
        var config = kernelCommandLine is null ? new AgentConfig() : ApplyKernelCommandLine(new AgentConfig(), kernelCommandLine);

        if (environment(ServerAddrEnvironmentVariable) is { Length: > 0 } envAddress)
        {
            config = config with { ServerAddress = ParseAddress(envAddress, ServerAddrEnvironmentVariable) };
        }
        if (environment(LogLevelEnvironmentVariable) is { Length: > 0 } envLevel)
        {
            config = config with { LogLevel = ParseLogLevel(envLevel, LogLevelEnvironmentVariable) };
        }
        if (environment(SysfsRootEnvironmentVariable) is { Length: > 0 } sysfsRoot)
        {
            config = config with { SysfsRoot = sysfsRoot.StartsWith('/') ? sysfsRoot : throw new AgentConfigException($"{SysfsRootEnvironmentVariable}: '{sysfsRoot}' is not an absolute path") };
        }
        if (arguments.ServerAddress is not null)
        {
            config = config with { ServerAddress = ParseAddress(arguments.ServerAddress, "--server-addr") };
        }
        if (arguments.LogLevel is not null)
        {
            config = config with { LogLevel = ParseLogLevel(arguments.LogLevel, "--log") };
        }
        return config;
    }

    /// <summary>Applies every <c>agent.*</c> option of a kernel command line; others are not ours and are ignored.</summary>
    public static AgentConfig ApplyKernelCommandLine(AgentConfig config, string commandLine)
    {
        var unknown = new List<string>();
        foreach (string token in commandLine.Split([' ', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries))
        {
            if (!token.StartsWith("agent.", StringComparison.Ordinal))
            {
                continue;
            }
            int equals = token.IndexOf('=');
            string key = equals < 0 ? token : token[..equals];
            string? value = equals < 0 ? null : token[(equals + 1)..];
            config = key switch
            {
                "agent.server_addr" => config with { ServerAddress = ParseAddress(Require(key, value), key) },
                "agent.log" => config with { LogLevel = ParseLogLevel(Require(key, value), key) },
                "agent.log_vport" => config with { LogVport = ParseUInt(key, value) },
                "agent.debug_console" => config with { DebugConsole = ParseFlag(key, value) },
                "agent.debug_console_vport" => config with { DebugConsoleVport = ParseUInt(key, value) },
                "agent.hotplug_timeout" => config with { HotplugTimeout = ParseSeconds(key, value) },
                "agent.container_pipe_size" => config with { ContainerPipeSize = checked((int)ParseUInt(key, value)) },
                "agent.devmode" => config with { DevMode = ParseFlag(key, value) },
                _ => Remember(config, unknown, token),
            };
        }
        return config with { UnknownKernelOptions = unknown };
    }

    private static AgentConfig Remember(AgentConfig config, List<string> unknown, string token)
    {
        unknown.Add(token);
        return config;
    }

    private static AgentAddress ParseAddress(string text, string source)
    {
        if (!AgentAddress.TryParse(text, out var address, out string? error))
        {
            throw new AgentConfigException($"{source}: {error}");
        }
        return address;
    }

    /// <summary>Kata's level names (critical/error/warn/info/debug) plus trace.</summary>
    public static LogLevel ParseLogLevel(string text, string source) => text.ToLowerInvariant() switch
    {
        "critical" or "fatal" => LogLevel.Critical,
        "error" => LogLevel.Error,
        "warn" or "warning" => LogLevel.Warning,
        "info" => LogLevel.Information,
        "debug" => LogLevel.Debug,
        "trace" => LogLevel.Trace,
        _ => throw new AgentConfigException($"{source}: log level '{text}' is not one of critical, error, warn, info, debug, trace"),
    };

    private static string Require(string key, string? value) =>
        string.IsNullOrEmpty(value) ? throw new AgentConfigException($"{key}: needs a value ({key}=VALUE)") : value;

    private static uint ParseUInt(string key, string? value) =>
        uint.TryParse(Require(key, value), NumberStyles.None, CultureInfo.InvariantCulture, out uint result)
            ? result
            : throw new AgentConfigException($"{key}: '{value}' is not a non-negative integer");

    private static TimeSpan ParseSeconds(string key, string? value)
    {
        uint seconds = ParseUInt(key, value);
        return seconds == 0 ? throw new AgentConfigException($"{key}: must be at least 1 second") : TimeSpan.FromSeconds(seconds);
    }

    /// <summary>A bare flag means true; agent.X=true/false/1/0/yes/no are accepted too.</summary>
    private static bool ParseFlag(string key, string? value) => value?.ToLowerInvariant() switch
    {
        null or "" or "1" or "true" or "yes" or "on" => true,
        "0" or "false" or "no" or "off" => false,
        _ => throw new AgentConfigException($"{key}: '{value}' is not a boolean"),
    };
}
