using System.Text;
using KataAgent.Helpers.Containers.Init;
using KataAgent.Linux.Interop;

namespace KataAgent.Helpers.Sandbox;

/// <summary>
/// <c>kata-agent sandbox-ns DIR HOSTNAME</c>: makes the sandbox's shared UTS and IPC namespaces and
/// pins them by bind-mounting their /proc files under DIR, then exits. A fresh process does it so
/// the agent's own namespaces stay as they are. Errors go to stderr, which the agent reads.
/// </summary>
internal sealed unsafe class SandboxNamespacesMode : IHelperMode
{
    /// <summary>The argument that selects this mode.</summary>
    public const string Argument = "sandbox-ns";

    public string Name => Argument;

    public int ArgumentCount => 2;

    public int Run(IReadOnlyList<string> arguments)
    {
        string directory = arguments[0];
        string hostname = arguments[1];
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
}
