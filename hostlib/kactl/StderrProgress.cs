using Spectre.Console;

namespace KataAgent.Kactl;

/// <summary>
/// A Spectre.Console progress display on stderr, so that stdout stays the command's: the label once above the bars,
/// then bars that stay when done. Callers pick their columns.
/// </summary>
internal static class StderrProgress
{
    /// <summary>Shows <paramref name="label"/>, then runs <paramref name="work"/> with the display's context until it ends.</summary>
    public static Task<T> RunAsync<T>(string label, ProgressColumn[] columns, Func<ProgressContext, Task<T>> work)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(Console.Error),
            Interactive = InteractionSupport.Yes,
            Ansi = AnsiSupport.Detect,
        });
        // The label on its own line, so that each bar's row fits 80 columns.
        console.WriteLine($"kactl: {label}");
        return console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(columns)
            .StartAsync(work);
    }
}
