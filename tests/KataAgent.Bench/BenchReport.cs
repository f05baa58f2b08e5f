using System.Text;

namespace KataAgent.Bench;

/// <summary>Prints a benchmark's rows as a Markdown table and writes it to out/bench/NAME.md.</summary>
internal static class BenchReport
{
    public static async Task WriteAsync(string root, string name, string context, IEnumerable<(string Name, string Value, string Note)> rows)
    {
        var table = new StringBuilder();
        table.AppendLine($"Measured {DateTime.UtcNow:yyyy-MM-dd} on {Environment.MachineName} ({Environment.ProcessorCount} cores), `./build.sh bench`{context}");
        table.AppendLine();
        table.AppendLine("| measure | result | how |");
        table.AppendLine("|---|---|---|");
        foreach (var (measure, value, note) in rows)
        {
            table.AppendLine($"| {measure} | {value} | {note} |");
        }
        Console.WriteLine(table);
        string outDirectory = Path.Combine(root, "out", "bench");
        Directory.CreateDirectory(outDirectory);
        await File.WriteAllTextAsync(Path.Combine(outDirectory, $"{name}.md"), table.ToString());
    }
}
