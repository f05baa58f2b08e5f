using System.CommandLine;
using System.Text;
using KataAgent.Kactl.Sandboxes;

namespace KataAgent.Kactl;

/// <summary><c>kactl ps [-q]</c>: the sandboxes in the run directory, running or left behind.</summary>
public sealed class PsCommand
{
    public const string Name = "ps";

    private readonly Option<bool> _quiet = new("--quiet", "-q")
    {
        Description = "Print only the sandbox ids, one per line",
    };

    public PsCommand()
    {
        Command = new Command(Name, $"List the VM sandboxes kactl booted (the run directory: ${RunDirectory.Variable} or {RunDirectory.DefaultPath}): id, container, state, age, command")
        {
            _quiet,
        };
        Command.SetAction(KactlCommands.Guard((parseResult, _) =>
        {
            var entries = RunDirectory.FromEnvironment().List();
            string text = parseResult.GetValue(_quiet)
                ? string.Concat(entries.Select(entry => entry.Id + "\n"))
                : Format(entries, DateTimeOffset.UtcNow);
            Console.Out.Write(text);
            return Task.FromResult(ExitCodes.Success);
        }));
    }

    /// <summary>The System.CommandLine command.</summary>
    public Command Command { get; }

    /// <summary>The table: a header and one line per sandbox, columns padded to their widest cell.</summary>
    public static string Format(IReadOnlyList<SandboxEntry> entries, DateTimeOffset now)
    {
        var rows = new List<string[]> { new[] { "SANDBOX", "CONTAINER", "STATE", "AGE", "COMMAND" } };
        rows.AddRange(entries.Select(entry => new[]
        {
            entry.Id,
            entry.Record?.ContainerId ?? "-",
            entry.State.ToString().ToLowerInvariant(),
            Age(now - entry.CreatedAt),
            entry.Record is { } record ? CommandLine(record.Args) : "-",
        }));
        int[] widths = Enumerable.Range(0, 4).Select(column => rows.Max(row => row[column].Length)).ToArray();
        var text = new StringBuilder();
        foreach (string[] row in rows)
        {
            for (int column = 0; column < 4; column++)
            {
                text.Append(row[column].PadRight(widths[column])).Append("  ");
            }
            text.Append(row[4]).Append('\n');
        }
        return text.ToString();
    }

    /// <summary>Coarse, as ps and docker show it: 42s, 5m, 3h, 2d.</summary>
    public static string Age(TimeSpan age) => age switch
    {
        { TotalSeconds: < 60 } => $"{Math.Max(0, (int)age.TotalSeconds)}s",
        { TotalMinutes: < 60 } => $"{(int)age.TotalMinutes}m",
        { TotalHours: < 48 } => $"{(int)age.TotalHours}h",
        _ => $"{(int)age.TotalDays}d",
    };

    /// <summary>The arguments as a shell would need them typed: words with blanks or quotes in single quotes.</summary>
    public static string CommandLine(IReadOnlyList<string> args) =>
        string.Join(' ', args.Select(arg => arg.Length > 0 && arg.All(c => char.IsAsciiLetterOrDigit(c) || "-_./=:,+@%".Contains(c))
            ? arg
            : "'" + arg.Replace("'", "'\\''", StringComparison.Ordinal) + "'"));
}
