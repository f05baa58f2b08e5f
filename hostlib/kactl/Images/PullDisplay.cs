namespace KataAgent.Kactl.Images;

/// <summary>How a pull or unpack shows its progress on stderr: bars on a terminal, plain lines otherwise, or nothing.</summary>
public enum PullDisplay
{
    /// <summary>Nothing (<c>--quiet</c>).</summary>
    None,

    /// <summary><see cref="PullProgressLines"/>: one line per layer phase change.</summary>
    Lines,

    /// <summary><see cref="PullProgressBars"/>: Spectre.Console bars.</summary>
    Bars,
}
