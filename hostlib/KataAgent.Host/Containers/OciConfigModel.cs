using System.Text.Json.Serialization;

namespace KataAgent.Host.Containers;

/// <summary>
/// The OCI runtime-spec config.json as written by <c>runc spec</c> / <c>crun spec</c>, only the
/// fields Kata's protobuf <see cref="Protocols.Agent.Spec"/> can carry. Every member is nullable so
/// that "absent" stays distinguishable from a zero value; unknown members are ignored. The nested
/// types exist only to be deserialized by <see cref="OciConfigJsonContext"/> (source-generated,
/// no reflection) and mapped by <see cref="OciSpecMapper"/>.
/// </summary>
internal static class OciConfigModel
{
    internal sealed class Config
    {
        [JsonPropertyName("ociVersion")] public string? OciVersion { get; set; }
        [JsonPropertyName("process")] public Process? Process { get; set; }
        [JsonPropertyName("root")] public Root? Root { get; set; }
        [JsonPropertyName("hostname")] public string? Hostname { get; set; }
        [JsonPropertyName("mounts")] public List<Mount?>? Mounts { get; set; }
        [JsonPropertyName("hooks")] public Hooks? Hooks { get; set; }
        [JsonPropertyName("annotations")] public Dictionary<string, string?>? Annotations { get; set; }
        [JsonPropertyName("linux")] public Linux? Linux { get; set; }
    }

    internal sealed class Process
    {
        [JsonPropertyName("terminal")] public bool? Terminal { get; set; }
        [JsonPropertyName("consoleSize")] public Box? ConsoleSize { get; set; }
        [JsonPropertyName("user")] public User? User { get; set; }
        [JsonPropertyName("args")] public List<string?>? Args { get; set; }
        [JsonPropertyName("env")] public List<string?>? Env { get; set; }
        [JsonPropertyName("cwd")] public string? Cwd { get; set; }
        [JsonPropertyName("capabilities")] public Capabilities? Capabilities { get; set; }
        [JsonPropertyName("rlimits")] public List<Rlimit?>? Rlimits { get; set; }
        [JsonPropertyName("noNewPrivileges")] public bool? NoNewPrivileges { get; set; }
        [JsonPropertyName("apparmorProfile")] public string? ApparmorProfile { get; set; }
        [JsonPropertyName("oomScoreAdj")] public long? OomScoreAdj { get; set; }
        [JsonPropertyName("selinuxLabel")] public string? SelinuxLabel { get; set; }
    }

    internal sealed class Box
    {
        [JsonPropertyName("height")] public uint? Height { get; set; }
        [JsonPropertyName("width")] public uint? Width { get; set; }
    }

    internal sealed class User
    {
        [JsonPropertyName("uid")] public uint? Uid { get; set; }
        [JsonPropertyName("gid")] public uint? Gid { get; set; }
        [JsonPropertyName("additionalGids")] public List<uint>? AdditionalGids { get; set; }
        [JsonPropertyName("username")] public string? Username { get; set; }
    }

    internal sealed class Capabilities
    {
        [JsonPropertyName("bounding")] public List<string?>? Bounding { get; set; }
        [JsonPropertyName("effective")] public List<string?>? Effective { get; set; }
        [JsonPropertyName("inheritable")] public List<string?>? Inheritable { get; set; }
        [JsonPropertyName("permitted")] public List<string?>? Permitted { get; set; }
        [JsonPropertyName("ambient")] public List<string?>? Ambient { get; set; }
    }

    internal sealed class Rlimit
    {
        [JsonPropertyName("type")] public string? Type { get; set; }
        [JsonPropertyName("hard")] public ulong? Hard { get; set; }
        [JsonPropertyName("soft")] public ulong? Soft { get; set; }
    }

    internal sealed class Root
    {
        [JsonPropertyName("path")] public string? Path { get; set; }
        [JsonPropertyName("readonly")] public bool? Readonly { get; set; }
    }

    internal sealed class Mount
    {
        [JsonPropertyName("destination")] public string? Destination { get; set; }
        [JsonPropertyName("type")] public string? Type { get; set; }
        [JsonPropertyName("source")] public string? Source { get; set; }
        [JsonPropertyName("options")] public List<string?>? Options { get; set; }
    }

    internal sealed class Hooks
    {
        [JsonPropertyName("prestart")] public List<Hook?>? Prestart { get; set; }
        [JsonPropertyName("createRuntime")] public List<Hook?>? CreateRuntime { get; set; }
        [JsonPropertyName("createContainer")] public List<Hook?>? CreateContainer { get; set; }
        [JsonPropertyName("startContainer")] public List<Hook?>? StartContainer { get; set; }
        [JsonPropertyName("poststart")] public List<Hook?>? Poststart { get; set; }
        [JsonPropertyName("poststop")] public List<Hook?>? Poststop { get; set; }
    }

    internal sealed class Hook
    {
        [JsonPropertyName("path")] public string? Path { get; set; }
        [JsonPropertyName("args")] public List<string?>? Args { get; set; }
        [JsonPropertyName("env")] public List<string?>? Env { get; set; }
        [JsonPropertyName("timeout")] public long? Timeout { get; set; }
    }

    internal sealed class Linux
    {
        [JsonPropertyName("uidMappings")] public List<IdMapping?>? UidMappings { get; set; }
        [JsonPropertyName("gidMappings")] public List<IdMapping?>? GidMappings { get; set; }
        [JsonPropertyName("sysctl")] public Dictionary<string, string?>? Sysctl { get; set; }
        [JsonPropertyName("resources")] public Resources? Resources { get; set; }
        [JsonPropertyName("cgroupsPath")] public string? CgroupsPath { get; set; }
        [JsonPropertyName("namespaces")] public List<Namespace?>? Namespaces { get; set; }
        [JsonPropertyName("devices")] public List<Device?>? Devices { get; set; }
        [JsonPropertyName("seccomp")] public Seccomp? Seccomp { get; set; }
        [JsonPropertyName("rootfsPropagation")] public string? RootfsPropagation { get; set; }
        [JsonPropertyName("maskedPaths")] public List<string?>? MaskedPaths { get; set; }
        [JsonPropertyName("readonlyPaths")] public List<string?>? ReadonlyPaths { get; set; }
        [JsonPropertyName("mountLabel")] public string? MountLabel { get; set; }
        [JsonPropertyName("intelRdt")] public IntelRdt? IntelRdt { get; set; }
    }

    internal sealed class IdMapping
    {
        [JsonPropertyName("containerID")] public uint? ContainerId { get; set; }
        [JsonPropertyName("hostID")] public uint? HostId { get; set; }
        [JsonPropertyName("size")] public uint? Size { get; set; }
    }

    internal sealed class Namespace
    {
        [JsonPropertyName("type")] public string? Type { get; set; }
        [JsonPropertyName("path")] public string? Path { get; set; }
    }

    internal sealed class Device
    {
        [JsonPropertyName("type")] public string? Type { get; set; }
        [JsonPropertyName("path")] public string? Path { get; set; }
        [JsonPropertyName("major")] public long? Major { get; set; }
        [JsonPropertyName("minor")] public long? Minor { get; set; }
        [JsonPropertyName("fileMode")] public uint? FileMode { get; set; }
        [JsonPropertyName("uid")] public uint? Uid { get; set; }
        [JsonPropertyName("gid")] public uint? Gid { get; set; }
    }

    internal sealed class Resources
    {
        [JsonPropertyName("devices")] public List<DeviceCgroup?>? Devices { get; set; }
        [JsonPropertyName("memory")] public Memory? Memory { get; set; }
        [JsonPropertyName("cpu")] public Cpu? Cpu { get; set; }
        [JsonPropertyName("pids")] public Pids? Pids { get; set; }
        [JsonPropertyName("blockIO")] public BlockIo? BlockIo { get; set; }
        [JsonPropertyName("hugepageLimits")] public List<HugepageLimit?>? HugepageLimits { get; set; }
        [JsonPropertyName("network")] public Network? Network { get; set; }
    }

    internal sealed class DeviceCgroup
    {
        [JsonPropertyName("allow")] public bool? Allow { get; set; }
        [JsonPropertyName("type")] public string? Type { get; set; }
        [JsonPropertyName("major")] public long? Major { get; set; }
        [JsonPropertyName("minor")] public long? Minor { get; set; }
        [JsonPropertyName("access")] public string? Access { get; set; }
    }

    internal sealed class Memory
    {
        [JsonPropertyName("limit")] public long? Limit { get; set; }
        [JsonPropertyName("reservation")] public long? Reservation { get; set; }
        [JsonPropertyName("swap")] public long? Swap { get; set; }
        [JsonPropertyName("kernel")] public long? Kernel { get; set; }
        [JsonPropertyName("kernelTCP")] public long? KernelTcp { get; set; }
        [JsonPropertyName("swappiness")] public ulong? Swappiness { get; set; }
        [JsonPropertyName("disableOOMKiller")] public bool? DisableOomKiller { get; set; }
    }

    internal sealed class Cpu
    {
        [JsonPropertyName("shares")] public ulong? Shares { get; set; }
        [JsonPropertyName("quota")] public long? Quota { get; set; }
        [JsonPropertyName("period")] public ulong? Period { get; set; }
        [JsonPropertyName("realtimeRuntime")] public long? RealtimeRuntime { get; set; }
        [JsonPropertyName("realtimePeriod")] public ulong? RealtimePeriod { get; set; }
        [JsonPropertyName("cpus")] public string? Cpus { get; set; }
        [JsonPropertyName("mems")] public string? Mems { get; set; }
    }

    internal sealed class Pids
    {
        [JsonPropertyName("limit")] public long? Limit { get; set; }
    }

    internal sealed class BlockIo
    {
        [JsonPropertyName("weight")] public uint? Weight { get; set; }
        [JsonPropertyName("leafWeight")] public uint? LeafWeight { get; set; }
        [JsonPropertyName("weightDevice")] public List<WeightDevice?>? WeightDevice { get; set; }
        [JsonPropertyName("throttleReadBpsDevice")] public List<ThrottleDevice?>? ThrottleReadBpsDevice { get; set; }
        [JsonPropertyName("throttleWriteBpsDevice")] public List<ThrottleDevice?>? ThrottleWriteBpsDevice { get; set; }
        [JsonPropertyName("throttleReadIOPSDevice")] public List<ThrottleDevice?>? ThrottleReadIopsDevice { get; set; }
        [JsonPropertyName("throttleWriteIOPSDevice")] public List<ThrottleDevice?>? ThrottleWriteIopsDevice { get; set; }
    }

    internal sealed class WeightDevice
    {
        [JsonPropertyName("major")] public long? Major { get; set; }
        [JsonPropertyName("minor")] public long? Minor { get; set; }
        [JsonPropertyName("weight")] public uint? Weight { get; set; }
        [JsonPropertyName("leafWeight")] public uint? LeafWeight { get; set; }
    }

    internal sealed class ThrottleDevice
    {
        [JsonPropertyName("major")] public long? Major { get; set; }
        [JsonPropertyName("minor")] public long? Minor { get; set; }
        [JsonPropertyName("rate")] public ulong? Rate { get; set; }
    }

    internal sealed class HugepageLimit
    {
        [JsonPropertyName("pageSize")] public string? PageSize { get; set; }
        [JsonPropertyName("limit")] public ulong? Limit { get; set; }
    }

    internal sealed class Network
    {
        [JsonPropertyName("classID")] public uint? ClassId { get; set; }
        [JsonPropertyName("priorities")] public List<InterfacePriority?>? Priorities { get; set; }
    }

    internal sealed class InterfacePriority
    {
        [JsonPropertyName("name")] public string? Name { get; set; }
        [JsonPropertyName("priority")] public uint? Priority { get; set; }
    }

    internal sealed class Seccomp
    {
        [JsonPropertyName("defaultAction")] public string? DefaultAction { get; set; }
        [JsonPropertyName("architectures")] public List<string?>? Architectures { get; set; }
        [JsonPropertyName("flags")] public List<string?>? Flags { get; set; }
        [JsonPropertyName("syscalls")] public List<Syscall?>? Syscalls { get; set; }
    }

    internal sealed class Syscall
    {
        [JsonPropertyName("names")] public List<string?>? Names { get; set; }
        [JsonPropertyName("action")] public string? Action { get; set; }
        [JsonPropertyName("errnoRet")] public uint? ErrnoRet { get; set; }
        [JsonPropertyName("args")] public List<SeccompArg?>? Args { get; set; }
    }

    internal sealed class SeccompArg
    {
        [JsonPropertyName("index")] public ulong? Index { get; set; }
        [JsonPropertyName("value")] public ulong? Value { get; set; }
        [JsonPropertyName("valueTwo")] public ulong? ValueTwo { get; set; }
        [JsonPropertyName("op")] public string? Op { get; set; }
    }

    internal sealed class IntelRdt
    {
        [JsonPropertyName("l3CacheSchema")] public string? L3CacheSchema { get; set; }
    }
}
