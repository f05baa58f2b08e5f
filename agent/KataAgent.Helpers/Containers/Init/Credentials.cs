using System.Runtime.InteropServices;
using System.Text;
using KataAgent.Linux.Interop;
using KataAgent.Helpers.Seccomp;

namespace KataAgent.Helpers.Containers.Init;

/// <summary>
/// The last steps before the workload runs, all on the thread that calls execve (capabilities,
/// no_new_privs and seccomp are per thread): session and controlling terminal, rlimits,
/// oom_score_adj, bounding set, user and groups, capability sets, ambient set, no_new_privs,
/// seccomp, cwd, exec.
/// </summary>
internal static unsafe class Credentials
{
    private const uint LinuxCapabilityVersion3 = 0x20080522;
    private const int LastCapability = 63;

    public static void SetHostname(string hostname)
    {
        byte[] name = Encoding.UTF8.GetBytes(hostname);
        fixed (byte* p = name)
        {
            Libc.Check(Libc.SetHostName(p, (nuint)name.Length), $"sethostname {hostname}");
        }
    }

    public static void ApplyAndExec(InitConfig config)
    {
        Libc.SetSid();
        if (config.Terminal)
        {
            Libc.Check(Libc.Ioctl(0, Libc.TIOCSCTTY, 0), "ioctl(TIOCSCTTY) on the console");
        }
        ulong* values = stackalloc ulong[2];
        foreach (var limit in config.Rlimits)
        {
            values[0] = limit.Soft;
            values[1] = limit.Hard;
            Libc.Check(Libc.PrLimit(0, limit.Resource, values, null), $"setrlimit {limit.Resource}");
        }
        if (config.OomScoreAdj is { } score)
        {
            try
            {
                File.WriteAllText("/proc/self/oom_score_adj", score.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new InitException($"oom_score_adj {score}: refused by the kernel{(score < 0 ? " (lowering it needs CAP_SYS_RESOURCE)" : "")}");
            }
        }

        // Without no_new_privs the filter must go in while we still hold CAP_SYS_ADMIN.
        if (config.SeccompProgram is { } early && !config.NoNewPrivileges)
        {
            SeccompInstaller.Install(early, config.SeccompFlags);
        }

        var caps = config.Capabilities;
        if (caps is not null)
        {
            for (int cap = 0; cap <= LastCapability; cap++)
            {
                if ((caps.Bounding & (1UL << cap)) == 0 && Libc.Prctl(Libc.PR_CAPBSET_DROP, (nuint)cap, 0, 0, 0) != 0)
                {
                    var error = LinuxException.FromLastError($"drop capability {cap} from the bounding set");
                    if (error.Errno != Errno.EINVAL)
                    {
                        throw error;
                    }
                }
            }
            Libc.Check(Libc.Prctl(Libc.PR_SET_KEEPCAPS, 1, 0, 0, 0), "prctl(PR_SET_KEEPCAPS)");
        }

        uint[] groups = [.. config.AdditionalGids];
        fixed (uint* g = groups)
        {
            Libc.Check(Libc.SetGroups((nuint)groups.Length, g), "setgroups");
        }
        Libc.Check(Libc.SetResGid(config.Gid, config.Gid, config.Gid), $"setresgid {config.Gid}");
        Libc.Check(Libc.SetResUid(config.Uid, config.Uid, config.Uid), $"setresuid {config.Uid}");

        if (caps is not null)
        {
            SetCapabilities(caps);
            Libc.Prctl(Libc.PR_CAP_AMBIENT, Libc.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
            for (int cap = 0; cap <= LastCapability; cap++)
            {
                // A capability can be ambient only if it is also permitted and inheritable; specs
                // (crun's default among them) list ambient capabilities without the inheritable ones,
                // and runc and crun skip those. So do we.
                if ((caps.Ambient & (1UL << cap)) != 0 && Libc.Prctl(Libc.PR_CAP_AMBIENT, Libc.PR_CAP_AMBIENT_RAISE, (nuint)cap, 0, 0) != 0)
                {
                    var error = LinuxException.FromLastError($"raise ambient capability {cap}");
                    if (error.Errno != Errno.EPERM)
                    {
                        throw error;
                    }
                }
            }
        }
        if (config.NoNewPrivileges)
        {
            Libc.Check(Libc.Prctl(Libc.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)");
            if (config.SeccompProgram is { } late)
            {
                SeccompInstaller.Install(late, config.SeccompFlags);
            }
        }

        Libc.Umask(0x12); // 0022, the OCI default for the workload
        if (Libc.Chdir(config.Cwd) != 0)
        {
            throw LinuxException.FromLastError($"chdir to the process cwd {config.Cwd}");
        }
        Exec(config.Args, config.Env);
    }

    private static void SetCapabilities(CapabilitySets caps)
    {
        // struct __user_cap_header_struct { u32 version; int pid; } + two __user_cap_data_struct { u32 effective, permitted, inheritable; }
        uint* header = stackalloc uint[2];
        header[0] = LinuxCapabilityVersion3;
        header[1] = 0;
        uint* data = stackalloc uint[6];
        data[0] = (uint)caps.Effective;
        data[1] = (uint)caps.Permitted;
        data[2] = (uint)caps.Inheritable;
        data[3] = (uint)(caps.Effective >> 32);
        data[4] = (uint)(caps.Permitted >> 32);
        data[5] = (uint)(caps.Inheritable >> 32);
        if (Libc.Capset(header, data) != 0)
        {
            throw LinuxException.FromLastError("capset");
        }
    }

    private static void Exec(List<string> args, List<string> env)
    {
        if (args.Count == 0)
        {
            throw new InitException("process.args is empty");
        }
        string program = args[0];
        string path = program.Contains('/') ? program : FindInPath(program, env) ?? throw new InitException($"exec {program}: not found in PATH");
        var handles = new List<nint>();
        try
        {
            byte* nativePath = NativeStrings.Utf8(path, handles);
            byte** argv = NativeStrings.Utf8Array(args, handles);
            byte** envp = NativeStrings.Utf8Array(env, handles);
            Libc.Execve(nativePath, argv, envp);
            throw LinuxException.FromLastError($"exec {program}");
        }
        finally
        {
            NativeStrings.Free(handles);
        }
    }

    private static string? FindInPath(string program, List<string> env)
    {
        string pathVariable = env.FirstOrDefault(e => e.StartsWith("PATH=", StringComparison.Ordinal))?[5..]
            ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        foreach (string directory in pathVariable.Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(directory, program);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        return null;
    }
}
