using KataAgent.Image.Pull;

namespace KataAgent.Kactl.Images;

/// <summary>Runs image work under the display kactl's stderr calls for.</summary>
public static class PullDisplays
{
    /// <summary>Bars when stderr is a terminal, lines otherwise; none when <paramref name="quiet"/>.</summary>
    public static PullDisplay ForStderr(bool quiet) =>
        quiet ? PullDisplay.None : LocalTerminal.IsTerminal(StandardStreams.Stderr) ? PullDisplay.Bars : PullDisplay.Lines;

    /// <summary>Runs <paramref name="work"/> with progress labelled <paramref name="label"/> shown as <paramref name="display"/> says.</summary>
    public static Task<T> RunAsync<T>(PullDisplay display, string label, Func<IProgress<PullProgress>?, Task<T>> work) => display switch
    {
        PullDisplay.Bars => PullProgressBars.RunAsync<T>(label, progress => work(progress)),
        PullDisplay.Lines => work(new PullProgressLines(label, WriteLine)),
        _ => work(null),
    };

    private static void WriteLine(string line) =>
        StandardStreams.WriteAll(StandardStreams.Stderr, System.Text.Encoding.UTF8.GetBytes(line + "\n"));
}
