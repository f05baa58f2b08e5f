namespace KataAgent.Kactl;

/// <summary>Why a <see cref="ConsoleSession"/> ended.</summary>
public enum ConsoleEnd
{
    /// <summary>The detach key (Ctrl-]) was typed.</summary>
    Detached,

    /// <summary>kactl's stdin ended (a script's input ran out, or the terminal went away).</summary>
    InputEnded,

    /// <summary>The other end closed the connection (the VM stopped).</summary>
    ClosedByRemote,

    /// <summary>SIGINT or SIGTERM to kactl (with a raw terminal, Ctrl-C is a key for the guest instead).</summary>
    Interrupted,
}
