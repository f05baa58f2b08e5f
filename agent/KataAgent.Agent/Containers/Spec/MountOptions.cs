using KataAgent.Agent.Errors;
using KataAgent.Agent.Interop;
using KataAgent.Linux.Interop;

namespace KataAgent.Agent.Containers.Spec;

/// <summary>OCI/fstab mount options → mount(2) flags, propagation flags and filesystem data.</summary>
public static class MountOptions
{
    private static readonly Dictionary<string, (bool Clear, ulong Flag)> Flags = new()
    {
        ["defaults"] = (false, 0),
        ["ro"] = (false, Libc.MS_RDONLY),
        ["rw"] = (true, Libc.MS_RDONLY),
        ["nosuid"] = (false, Libc.MS_NOSUID),
        ["suid"] = (true, Libc.MS_NOSUID),
        ["nodev"] = (false, Libc.MS_NODEV),
        ["dev"] = (true, Libc.MS_NODEV),
        ["noexec"] = (false, Libc.MS_NOEXEC),
        ["exec"] = (true, Libc.MS_NOEXEC),
        ["sync"] = (false, Libc.MS_SYNCHRONOUS),
        ["async"] = (true, Libc.MS_SYNCHRONOUS),
        ["dirsync"] = (false, Libc.MS_DIRSYNC),
        ["remount"] = (false, Libc.MS_REMOUNT),
        ["mand"] = (false, Libc.MS_MANDLOCK),
        ["nomand"] = (true, Libc.MS_MANDLOCK),
        ["noatime"] = (false, Libc.MS_NOATIME),
        ["atime"] = (true, Libc.MS_NOATIME),
        ["nodiratime"] = (false, Libc.MS_NODIRATIME),
        ["diratime"] = (true, Libc.MS_NODIRATIME),
        ["relatime"] = (false, Libc.MS_RELATIME),
        ["norelatime"] = (true, Libc.MS_RELATIME),
        ["strictatime"] = (false, Libc.MS_STRICTATIME),
        ["nostrictatime"] = (true, Libc.MS_STRICTATIME),
        ["nosymfollow"] = (false, Libc.MS_NOSYMFOLLOW),
        ["bind"] = (false, Libc.MS_BIND),
        ["rbind"] = (false, Libc.MS_BIND | Libc.MS_REC),
    };

    private static readonly Dictionary<string, ulong> Propagations = new()
    {
        ["private"] = Libc.MS_PRIVATE,
        ["rprivate"] = Libc.MS_PRIVATE | Libc.MS_REC,
        ["shared"] = Libc.MS_SHARED,
        ["rshared"] = Libc.MS_SHARED | Libc.MS_REC,
        ["slave"] = Libc.MS_SLAVE,
        ["rslave"] = Libc.MS_SLAVE | Libc.MS_REC,
        ["unbindable"] = Libc.MS_UNBINDABLE,
        ["runbindable"] = Libc.MS_UNBINDABLE | Libc.MS_REC,
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
        "" => Libc.MS_SLAVE | Libc.MS_REC,
        _ when Propagations.TryGetValue(value, out ulong p) => p | Libc.MS_REC,
        _ => throw AgentException.InvalidArgument(field, $"unknown propagation '{value}'"),
    };
}
