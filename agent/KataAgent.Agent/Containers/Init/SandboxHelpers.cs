using System.Text;
using KataAgent.Linux.Interop;

namespace KataAgent.Agent.Containers.Init;

/// <summary>
/// Helper modes for the sandbox, run as fresh processes of the agent binary (never forked):
/// <c>kata-agent sandbox-ns DIR HOSTNAME</c> makes the sandbox's shared UTS and IPC namespaces
/// and pins them by bind-mounting their /proc files under DIR, then exits; <c>kata-agent pause</c>
/// is PID 1 of the sandbox's shared PID namespace and reaps what is orphaned there.
/// </summary>
internal static unsafe class SandboxHelpers
{
    public const string NamespacesMode = "sandbox-ns";
    public const string PauseMode = "pause";

    public static int CreateNamespaces(string directory, string hostname)
    {
        try
        {
            Libc.Check(Libc.Unshare(Libc.CLONE_NEWUTS | Libc.CLONE_NEWIPC), "unshare(CLONE_NEWUTS|CLONE_NEWIPC)");
            if (hostname.Length > 0)
            {
                Credentials.SetHostname(hostname);
            }
            foreach (string kind in new[] { "uts", "ipc" })
            {
                string target = Path.Combine(directory, kind);
                if (!File.Exists(target))
                {
                    File.WriteAllBytes(target, []);
                }
                // The main thread did the unshare, and /proc/self/ns shows the main thread's namespaces.
                if (Libc.Mount($"/proc/self/ns/{kind}", target, null, Libc.MS_BIND, null) != 0)
                {
                    throw LinuxException.FromLastError($"bind /proc/self/ns/{kind} to {target}");
                }
            }
            return 0;
        }
        catch (Exception e)
        {
            byte[] message = Encoding.UTF8.GetBytes(e.Message + "\n");
            fixed (byte* p = message)
            {
                Libc.Write(2, p, (nuint)message.Length);
            }
            return 1;
        }
    }

    public static int Pause()
    {
        while (true)
        {
            Libc.SigInfo info;
            if (Libc.WaitId(Libc.P_ALL, 0, &info, Libc.WEXITED) != 0)
            {
                Thread.Sleep(1000);
            }
        }
    }
}
