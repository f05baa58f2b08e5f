using System.Globalization;
using KataAgent.Linux.Addressing;
using KataAgent.Protocols.Guest;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Config;

/// <summary>Builds <see cref="AgentConfig"/> from the kernel command line, environment and flags.</summary>
public static class AgentConfigLoader
{
    public const string ServerAddrEnvironmentVariable = "KATA_AGENT_SERVER_ADDR";
    public const string LogLevelEnvironmentVariable = "KATA_AGENT_LOG_LEVEL";
    public const string SysfsRootEnvironmentVariable = "KATA_AGENT_SYSFS_ROOT";
    public const string DebugConsoleEnvironmentVariable = "KATA_AGENT_DEBUG_CONSOLE";
    public const string LogPortEnvironmentVariable = "KATA_AGENT_LOG_PORT";
    public const string LogListenEnvironmentVariable = "KATA_AGENT_LOG_LISTEN";
    public const string PolicyFileEnvironmentVariable = "KATA_AGENT_POLICY_FILE";
    public const string MemAgentEnableEnvironmentVariable = "KATA_AGENT_MEM_AGENT_ENABLE";
    public const string ProcRootEnvironmentVariable = "KATA_AGENT_PROC_ROOT";
    public const string CgroupRootEnvironmentVariable = "KATA_AGENT_CGROUP_ROOT";

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
        if (environment(DebugConsoleEnvironmentVariable) is { Length: > 0 } envConsole)
        {
            config = config with { DebugConsole = true, DebugConsoleAddress = ParseChannelAddress(envConsole, DebugConsoleEnvironmentVariable, ConsoleKinds) };
        }
        if (environment(LogPortEnvironmentVariable) is { Length: > 0 } envLogPort)
        {
            config = config with { LogPortAddress = ParseOptionalAddress(envLogPort, LogPortEnvironmentVariable, [AgentAddressKind.Serial]) };
        }
        if (environment(LogListenEnvironmentVariable) is { Length: > 0 } envLogListen)
        {
            config = config with { LogListenAddress = ParseOptionalAddress(envLogListen, LogListenEnvironmentVariable, ListenKinds) };
        }
        if (environment(PolicyFileEnvironmentVariable) is { Length: > 0 } envPolicy)
        {
            config = config with { PolicyFile = RequireAbsolute(envPolicy, PolicyFileEnvironmentVariable), PolicyFileRequired = true };
        }
        if (environment(MemAgentEnableEnvironmentVariable) is { Length: > 0 } envMemAgent)
        {
            config = config with { MemAgentEnabled = ParseFlag(MemAgentEnableEnvironmentVariable, envMemAgent) };
        }
        if (environment(ProcRootEnvironmentVariable) is { Length: > 0 } procRoot)
        {
            config = config with { ProcRoot = RequireAbsolute(procRoot, ProcRootEnvironmentVariable) };
        }
        if (environment(CgroupRootEnvironmentVariable) is { Length: > 0 } cgroupRoot)
        {
            config = config with { CgroupRoot = RequireAbsolute(cgroupRoot, CgroupRootEnvironmentVariable) };
        }
        if (arguments.PolicyFile is not null)
        {
            config = config with { PolicyFile = RequireAbsolute(arguments.PolicyFile, "--policy-file"), PolicyFileRequired = true };
        }
        if (arguments.DebugConsoleAddress is not null)
        {
            config = config with { DebugConsole = true, DebugConsoleAddress = ParseChannelAddress(arguments.DebugConsoleAddress, "--debug-console", ConsoleKinds) };
        }
        if (arguments.LogPortAddress is not null)
        {
            config = config with { LogPortAddress = ParseOptionalAddress(arguments.LogPortAddress, "--log-port", [AgentAddressKind.Serial]) };
        }
        if (arguments.LogListenAddress is not null)
        {
            config = config with { LogListenAddress = ParseOptionalAddress(arguments.LogListenAddress, "--log-listen", ListenKinds) };
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
                "agent.policy_file" => config with { PolicyFile = RequireAbsolute(Require(key, value), key), PolicyFileRequired = true },
                "agent.mem_agent_enable" => config with { MemAgentEnabled = ParseFlag(key, value) },
                // Checked when a pull uses it, not here: a form we do not support must not keep the agent from booting.
                "agent.image_registry_auth" => config with { ImageRegistryAuth = Require(key, value) },
                "agent.mem_agent_memcg_disable" => config with { MemcgSettings = config.MemcgSettings with { Disabled = ParseFlag(key, value) } },
                "agent.mem_agent_memcg_swap" => config with { MemcgSettings = config.MemcgSettings with { Swap = ParseFlag(key, value) } },
                "agent.mem_agent_memcg_swappiness_max" => config with { MemcgSettings = config.MemcgSettings with { SwappinessMax = ParseBounded(key, value, 200) } },
                "agent.mem_agent_memcg_period_secs" => config with { MemcgSettings = config.MemcgSettings with { PeriodSecs = ParsePeriod(key, value) } },
                "agent.mem_agent_memcg_period_psi_percent_limit" => config with { MemcgSettings = config.MemcgSettings with { PeriodPsiPercentLimit = ParseBounded(key, value, 100) } },
                "agent.mem_agent_memcg_eviction_psi_percent_limit" => config with { MemcgSettings = config.MemcgSettings with { EvictionPsiPercentLimit = ParseBounded(key, value, 100) } },
                "agent.mem_agent_memcg_eviction_run_aging_count_min" => config with { MemcgSettings = config.MemcgSettings with { EvictionRunAgingCountMin = ParseULong(key, value) } },
                "agent.mem_agent_compact_disable" => config with { CompactSettings = config.CompactSettings with { Disabled = ParseFlag(key, value) } },
                "agent.mem_agent_compact_period_secs" => config with { CompactSettings = config.CompactSettings with { PeriodSecs = ParsePeriod(key, value) } },
                "agent.mem_agent_compact_period_psi_percent_limit" => config with { CompactSettings = config.CompactSettings with { PeriodPsiPercentLimit = ParseBounded(key, value, 100) } },
                "agent.mem_agent_compact_psi_percent_limit" => config with { CompactSettings = config.CompactSettings with { CompactPsiPercentLimit = ParseBounded(key, value, 100) } },
                "agent.mem_agent_compact_sec_max" => config with { CompactSettings = config.CompactSettings with { CompactSecMax = (long)ParsePeriod(key, value) } },
                "agent.mem_agent_compact_order" => config with { CompactSettings = config.CompactSettings with { CompactOrder = ParseBounded(key, value, 10) } },
                "agent.mem_agent_compact_threshold" => config with { CompactSettings = config.CompactSettings with { CompactThreshold = ParseULong(key, value) } },
                "agent.mem_agent_compact_force_times" => config with { CompactSettings = config.CompactSettings with { CompactForceTimes = ParseULong(key, value) } },
                _ => Remember(config, unknown, token),
            };
        }
        return config with
        {
            UnknownKernelOptions = unknown,
            DebugConsoleAddress = !config.DebugConsole ? null
                : config.DebugConsoleVport > 0 ? VsockAny(config.DebugConsoleVport)
                : AgentAddress.Parse("serial://" + GuestPorts.DebugConsoleChannelName),
            LogListenAddress = config.LogVport > 0 ? VsockAny(config.LogVport) : null,
        };
    }

    private static readonly AgentAddressKind[] ConsoleKinds = [AgentAddressKind.Serial, AgentAddressKind.Vsock, AgentAddressKind.Unix];
    private static readonly AgentAddressKind[] ListenKinds = [AgentAddressKind.Vsock, AgentAddressKind.Unix];

    private static AgentAddress VsockAny(uint port) => AgentAddress.Parse($"vsock://-1:{port}");

    /// <summary>An address of one of <paramref name="kinds"/>, or null for "none".</summary>
    private static AgentAddress? ParseOptionalAddress(string text, string source, AgentAddressKind[] kinds) =>
        text == "none" ? null : ParseChannelAddress(text, source, kinds);

    private static AgentAddress ParseChannelAddress(string text, string source, AgentAddressKind[] kinds)
    {
        var address = ParseAddress(text, source);
        if (!kinds.Contains(address.Kind))
        {
            string schemes = string.Join(", ", kinds.Select(k => k.ToString().ToLowerInvariant() + "://"));
            throw new AgentConfigException($"{source}: {address} is not one of {schemes}");
        }
        return address;
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

    private static string RequireAbsolute(string path, string source) =>
        path.StartsWith('/') ? path : throw new AgentConfigException($"{source}: '{path}' is not an absolute path");

    private static ulong ParseULong(string key, string? value) =>
        ulong.TryParse(Require(key, value), NumberStyles.None, CultureInfo.InvariantCulture, out ulong result)
            ? result
            : throw new AgentConfigException($"{key}: '{value}' is not a non-negative integer");

    private static uint ParseBounded(string key, string? value, uint max)
    {
        uint result = ParseUInt(key, value);
        return result <= max ? result : throw new AgentConfigException($"{key}: {result} is above {max}");
    }

    private static ulong ParsePeriod(string key, string? value)
    {
        ulong seconds = ParseULong(key, value);
        return seconds is >= 1 and <= (ulong)int.MaxValue ? seconds : throw new AgentConfigException($"{key}: {seconds} is not in 1..{int.MaxValue} seconds");
    }

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
