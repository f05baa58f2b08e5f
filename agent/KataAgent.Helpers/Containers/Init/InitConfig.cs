using System.Text.Json.Serialization;
using KataAgent.Linux.Interop;

namespace KataAgent.Helpers.Containers.Init;

/// <summary>
/// Everything the init helper needs to turn itself into a container process, computed and
/// validated by the agent beforehand. Travels as JSON in a sealed memfd (fd 4 of the helper), so
/// the helper never parses an OCI spec and never needs the network stack or a logger.
/// </summary>
public sealed class InitConfig
{
    /// <summary>"create": a container's first process; "exec": join a running container.</summary>
    public string Mode { get; set; } = "create";

    /// <summary>CLONE_NEW* flags to unshare (create).</summary>
    public int UnshareFlags { get; set; }

    /// <summary>Namespace files to join before unsharing (e.g. the sandbox's UTS/IPC, a netns path).</summary>
    public List<NamespaceJoin> Join { get; set; } = [];

    /// <summary>Exec: join every namespace of this process (the container's init).</summary>
    public int JoinPid { get; set; }

    /// <summary>CLONE_NEW* flags to join through <see cref="JoinPid"/>'s pidfd (exec).</summary>
    public int JoinPidFlags { get; set; }

    public bool NewCgroupNamespace { get; set; }

    public string? Rootfs { get; set; }

    public bool RootfsReadonly { get; set; }

    /// <summary>MS_* propagation for "/" inside the container (default MS_SLAVE|MS_REC).</summary>
    public ulong RootPropagation { get; set; }

    public List<MountConfig> Mounts { get; set; } = [];

    public List<DeviceConfig> Devices { get; set; } = [];

    public List<string> MaskedPaths { get; set; } = [];

    public List<string> ReadonlyPaths { get; set; } = [];

    public Dictionary<string, string> Sysctls { get; set; } = [];

    public string? Hostname { get; set; }

    public List<string> Args { get; set; } = [];

    public List<string> Env { get; set; } = [];

    public string Cwd { get; set; } = "/";

    public uint Uid { get; set; }

    public uint Gid { get; set; }

    public List<uint> AdditionalGids { get; set; } = [];

    /// <summary>Give the process a terminal: the init helper creates it in the container's own devpts and passes the master to the agent.</summary>
    public bool Terminal { get; set; }

    public ushort ConsoleRows { get; set; }

    public ushort ConsoleColumns { get; set; }

    public List<RlimitConfig> Rlimits { get; set; } = [];

    public long? OomScoreAdj { get; set; }

    /// <summary>Capability sets as bit masks (bit N = capability N); null = leave as inherited.</summary>
    public CapabilitySets? Capabilities { get; set; }

    public bool NoNewPrivileges { get; set; }

    /// <summary>Compiled seccomp program (struct sock_filter array), or null.</summary>
    public byte[]? SeccompProgram { get; set; }

    public uint SeccompFlags { get; set; }
}

public sealed class NamespaceJoin
{
    public int Type { get; set; }

    public string Path { get; set; } = "";
}

public sealed class MountConfig
{
    public string Destination { get; set; } = "";

    public string? Source { get; set; }

    public string? Type { get; set; }

    public ulong Flags { get; set; }

    /// <summary>Propagation flags applied after the mount (MS_SHARED, MS_SLAVE, MS_PRIVATE, MS_UNBINDABLE, with MS_REC).</summary>
    public ulong Propagation { get; set; }

    public string? Data { get; set; }

    public bool IsBind => (Flags & Libc.MS_BIND) != 0;
}

public sealed class DeviceConfig
{
    public string Path { get; set; } = "";

    /// <summary>'c', 'b' or 'p'.</summary>
    public char Type { get; set; }

    public long Major { get; set; }

    public long Minor { get; set; }

    public uint FileMode { get; set; }

    public uint Uid { get; set; }

    public uint Gid { get; set; }
}

public sealed class RlimitConfig
{
    public int Resource { get; set; }

    public ulong Soft { get; set; }

    public ulong Hard { get; set; }
}

public sealed class CapabilitySets
{
    public ulong Bounding { get; set; }

    public ulong Effective { get; set; }

    public ulong Inheritable { get; set; }

    public ulong Permitted { get; set; }

    public ulong Ambient { get; set; }
}

[JsonSerializable(typeof(InitConfig))]
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
internal sealed partial class InitConfigJsonContext : JsonSerializerContext;
