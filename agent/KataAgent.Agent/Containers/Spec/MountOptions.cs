using KataAgent.Agent.Errors;
using KataAgent.Agent.Interop;

namespace KataAgent.Agent.Containers.Spec;

/// <summary>OCI/fstab mount options → mount(2) flags, propagation flags and filesystem data.</summary>
public static class MountOptions
{
    private static readonly Dictionary<string, (bool Clear, ulong Flag)> Flags = new()
    {
        ["defaults"] = (false, 0),
        ["ro"] = (false, AgentLibc.MS_RDONLY),
        ["rw"] = (true, AgentLibc.MS_RDONLY),
        ["nosuid"] = (false, AgentLibc.MS_NOSUID),
        ["suid"] = (true, AgentLibc.MS_NOSUID),
        ["nodev"] = (false, AgentLibc.MS_NODEV),
        ["dev"] = (true, AgentLibc.MS_NODEV),
        ["noexec"] = (false, AgentLibc.MS_NOEXEC),
        ["exec"] = (true, AgentLibc.MS_NOEXEC),
        ["sync"] = (false, AgentLibc.MS_SYNCHRONOUS),
        ["async"] = (true, AgentLibc.MS_SYNCHRONOUS),
        ["dirsync"] = (false, AgentLibc.MS_DIRSYNC),
        ["remount"] = (false, AgentLibc.MS_REMOUNT),
        ["mand"] = (false, AgentLibc.MS_MANDLOCK),
        ["nomand"] = (true, AgentLibc.MS_MANDLOCK),
        ["noatime"] = (false, AgentLibc.MS_NOATIME),
        ["atime"] = (true, AgentLibc.MS_NOATIME),
        ["nodiratime"] = (false, AgentLibc.MS_NODIRATIME),
        ["diratime"] = (true, AgentLibc.MS_NODIRATIME),
        ["relatime"] = (false, AgentLibc.MS_RELATIME),
        ["norelatime"] = (true, AgentLibc.MS_RELATIME),
        ["strictatime"] = (false, AgentLibc.MS_STRICTATIME),
        ["nostrictatime"] = (true, AgentLibc.MS_STRICTATIME),
        ["nosymfollow"] = (false, AgentLibc.MS_NOSYMFOLLOW),
        ["bind"] = (false, AgentLibc.MS_BIND),
        ["rbind"] = (false, AgentLibc.MS_BIND | AgentLibc.MS_REC),
    };

    private static readonly Dictionary<string, ulong> Propagations = new()
    {
        ["private"] = AgentLibc.MS_PRIVATE,
        ["rprivate"] = AgentLibc.MS_PRIVATE | AgentLibc.MS_REC,
        ["shared"] = AgentLibc.MS_SHARED,
        ["rshared"] = AgentLibc.MS_SHARED | AgentLibc.MS_REC,
        ["slave"] = AgentLibc.MS_SLAVE,
        ["rslave"] = AgentLibc.MS_SLAVE | AgentLibc.MS_REC,
        ["unbindable"] = AgentLibc.MS_UNBINDABLE,
        ["runbindable"] = AgentLibc.MS_UNBINDABLE | AgentLibc.MS_REC,
    };

    public static (ulong Flags, ulong Propagation, string? Data) Parse(IEnumerable<string> options)
    {
        ulong flags = 0;
        ulong propagation = 0;
        var data = new List<string>();
        foreach (string option in options)
        {
            if (Flags.TryGetValue(option, out var flag))
            {
                flags = flag.Clear ? flags & ~flag.Flag : flags | flag.Flag;
            }
            else if (Propagations.TryGetValue(option, out ulong p))
            {
                propagation |= p;
            }
            else
            {
                data.Add(option);
            }
        }
        return (flags, propagation, data.Count == 0 ? null : string.Join(',', data));
    }

    /// <summary>Root propagation from OCI linux.rootfsPropagation ("" means rslave, as runc).</summary>
    public static ulong RootPropagation(string value, string field) => value switch
    {
        "" => AgentLibc.MS_SLAVE | AgentLibc.MS_REC,
        _ when Propagations.TryGetValue(value, out ulong p) => p | AgentLibc.MS_REC,
        _ => throw AgentException.InvalidArgument(field, $"unknown propagation '{value}'"),
    };
}
