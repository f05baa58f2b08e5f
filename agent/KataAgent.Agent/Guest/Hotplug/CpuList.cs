using System.Globalization;

namespace KataAgent.Agent.Guest.Hotplug;

/// <summary>The kernel's CPU list format (/sys/devices/system/cpu/online): "0-3,5,7-8", empty for none.</summary>
public static class CpuList
{
    /// <summary>The CPU numbers in <paramref name="text"/>; throws <see cref="FormatException"/> for anything else.</summary>
    public static SortedSet<int> Parse(string text)
    {
        var cpus = new SortedSet<int>();
        foreach (string part in text.Trim().Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            int dash = part.IndexOf('-');
            if (dash < 0)
            {
                cpus.Add(Number(part, text));
                continue;
            }
            int first = Number(part[..dash], text);
            int last = Number(part[(dash + 1)..], text);
            if (last < first)
            {
                throw new FormatException($"'{text}' is not a CPU list: {part} runs backwards");
            }
            for (int cpu = first; cpu <= last; cpu++)
            {
                cpus.Add(cpu);
            }
        }
        return cpus;
    }

    private static int Number(string word, string text) =>
        int.TryParse(word, NumberStyles.None, CultureInfo.InvariantCulture, out int value) && value < 65536
            ? value
            : throw new FormatException($"'{text}' is not a CPU list: '{word}' is not a CPU number");
}
