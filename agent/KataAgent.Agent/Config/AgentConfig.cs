using KataAgent.Linux.Addressing;
using Microsoft.Extensions.Logging;
using KataAgent.Protocols.Guest;
using KataAgent.Agent.MemAgent;

namespace KataAgent.Agent.Config;

/// <summary>
/// The agent's settings. Sources, lowest to highest precedence: defaults, <c>agent.*</c> options
/// on the kernel command line, environment (<c>KATA_AGENT_SERVER_ADDR</c>, <c>KATA_AGENT_LOG_LEVEL</c>),
/// then the agent's own command-line flags.
/// </summary>
public sealed record AgentConfig
{
    /// <summary>Where the API is served.</summary>
    public AgentAddress ServerAddress { get; init; } = AgentAddress.DefaultServer;

    /// <summary>Minimum log level (agent.log= / KATA_AGENT_LOG_LEVEL / --log).</summary>
    public LogLevel LogLevel { get; init; } = LogLevel.Information;

    /// <summary>vsock port to send logs to (0: console only).</summary>
    public uint LogVport { get; init; }

    /// <summary>Start a debug shell (agent.debug_console).</summary>
    public bool DebugConsole { get; init; }

    /// <summary>vsock port of the debug console (agent.debug_console_vport=).</summary>
    public uint DebugConsoleVport { get; init; }

    /// <summary>
    /// Where the debug console is served, null when it is off: the serial port
    /// <c>agent.debug_console.0</c> with <c>agent.debug_console</c>, vsock port N with
    /// <c>agent.debug_console_vport=N</c> too; <c>--debug-console</c> / <c>KATA_AGENT_DEBUG_CONSOLE</c> override.
    /// </summary>
    public AgentAddress? DebugConsoleAddress { get; init; }

    /// <summary>The serial port that gets a copy of every log line when it exists (null: none).</summary>
    public AgentAddress? LogPortAddress { get; init; } = AgentAddress.Parse("serial://" + GuestPorts.LogChannelName);

    /// <summary>Where log readers connect (vsock port <c>agent.log_vport</c>), null for none.</summary>
    public AgentAddress? LogListenAddress { get; init; }

    /// <summary>How long to wait for hot-plugged devices (agent.hotplug_timeout=, seconds).</summary>
    public TimeSpan HotplugTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Size of container stdout/stderr pipes, 0 for the kernel default (agent.container_pipe_size=).</summary>
    public int ContainerPipeSize { get; init; }

    /// <summary>Allow core dumps (agent.devmode).</summary>
    public bool DevMode { get; init; }

    /// <summary>Largest request message accepted, in bytes; larger ones get RESOURCE_EXHAUSTED.
    /// 4 MiB is ttrpc's frame limit, so a Kata runtime never sends more.</summary>
    public int MaxReceiveMessageSize { get; init; } = 4 * 1024 * 1024;

    /// <summary>Where sysfs is (KATA_AGENT_SYSFS_ROOT): tests point the blk storage driver at a fake tree.</summary>
    public string SysfsRoot { get; init; } = "/sys";

    /// <summary>The policy file an image may ship; loaded at start when it exists.</summary>
    public const string DefaultPolicyFile = "/etc/kataagent/policy.json";

    /// <summary>
    /// The boot policy (docs/POLICY.md): agent.policy_file=, KATA_AGENT_POLICY_FILE or --policy-file,
    /// else <see cref="DefaultPolicyFile"/> when the image has one.
    /// </summary>
    public string? PolicyFile { get; init; } = DefaultPolicyFile;

    /// <summary>Whether <see cref="PolicyFile"/> was named explicitly, so a missing file is an error (the closed-door policy) rather than "no policy".</summary>
    public bool PolicyFileRequired { get; init; }

    /// <summary>Run the mem-agent (agent.mem_agent_enable, or KATA_AGENT_MEM_AGENT_ENABLE).</summary>
    public bool MemAgentEnabled { get; init; }

    /// <summary>The mem-agent's memcg reclaimer settings at start (agent.mem_agent_memcg_*).</summary>
    public MemcgSettings MemcgSettings { get; init; } = new();

    /// <summary>The mem-agent's compactor settings at start (agent.mem_agent_compact_*).</summary>
    public CompactSettings CompactSettings { get; init; } = new();

    /// <summary>Where procfs is (KATA_AGENT_PROC_ROOT): tests point the mem-agent at a fake tree.</summary>
    public string ProcRoot { get; init; } = "/proc";

    /// <summary>Where the memory cgroup hierarchy is (KATA_AGENT_CGROUP_ROOT), null to find the cgroup2 mount.</summary>
    public string? CgroupRoot { get; init; }

    /// <summary>
    /// Kata's <c>agent.image_registry_auth</c>: where guest pull takes registry credentials from when the pull
    /// brings none. Kept as given; <see cref="Images.RegistryAuthSetting"/> says which forms work (a guest file).
    /// </summary>
    public string? ImageRegistryAuth { get; init; }

    /// <summary>Kernel command-line options that were not understood (logged at start).</summary>
    public IReadOnlyList<string> UnknownKernelOptions { get; init; } = [];
}
