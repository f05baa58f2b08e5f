using KataAgent.Helpers.Containers.Init;
using KataAgent.Helpers.MemAgent;
using KataAgent.Helpers.Sandbox;

namespace KataAgent.Helpers;

/// <summary>
/// The entry point of kata-agent-init, the agent's spawn-chain helper: <c>kata-agent-init MODE ARGS…</c> runs one
/// <see cref="IHelperMode"/>. The agent starts it from a sealed memfd (see <c>Processes/SealedExecutable</c>).
/// </summary>
public static class HelperMain
{
    /// <summary>Exit code for a command line that names no mode.</summary>
    public const int UsageError = 2;

    /// <summary>The modes, by the first argument.</summary>
    private static readonly IHelperMode[] Modes =
    [
        new ContainerInitMode(),
        new PauseMode(),
        new SandboxNamespacesMode(),
        new CompactMemoryMode(),
    ];

    /// <summary>Runs the mode <paramref name="args"/> names; returns its exit code.</summary>
    public static int Run(string[] args)
    {
        // Nothing before the mode: the container init helper and the pause process are PID 1 of their own PID namespace, where
        // nothing may start a thread or touch the console.
        foreach (var mode in Modes)
        {
            if (args.Length == 1 + mode.ArgumentCount && args[0] == mode.Name)
            {
                return mode.Run(args[1..]);
            }
        }
        var usage = new System.Text.StringBuilder("kata-agent-init: the agent's spawn-chain helper, started by kata-agent; modes:");
        foreach (var mode in Modes)
        {
            usage.Append($" {mode.Name} ({mode.ArgumentCount} arguments)");
        }
        Console.Error.WriteLine(usage.ToString());
        return UsageError;
    }
}
