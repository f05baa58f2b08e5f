using KataAgent.Linux.Interop;

namespace KataAgent.Helpers.Sandbox;

/// <summary>
/// <c>kata-agent pause</c>: PID 1 of the sandbox's shared PID namespace. It holds the namespace
/// open and reaps what is orphaned there, for as long as the sandbox lives.
/// </summary>
internal sealed unsafe class PauseMode : IHelperMode
{
    /// <summary>The argument that selects this mode.</summary>
    public const string Argument = "pause";

    public string Name => Argument;

    public int ArgumentCount => 0;

    public int Run(IReadOnlyList<string> arguments)
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
