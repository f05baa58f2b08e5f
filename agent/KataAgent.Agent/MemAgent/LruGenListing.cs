using System.Globalization;

namespace KataAgent.Agent.MemAgent;

/// <summary>
/// MGLRU's generations as <c>/sys/kernel/debug/lru_gen</c> lists them:
/// <code>
/// memcg    ID PATH
///  node    N
///          SEQ AGE_MS ANON_PAGES FILE_PAGES
/// </code>
/// Lines of any other shape are skipped, as Kata's parser does.
/// </summary>
public static class LruGenListing
{
    /// <summary>The generations of every memcg and node in <paramref name="text"/>.</summary>
    public static IReadOnlyList<MemcgGenerations> Parse(string text)
    {
        var result = new List<MemcgGenerations>();
        MemcgGenerations? memcg = null;
        NodeGenerations? node = null;
        foreach (string line in text.Split('\n'))
        {
            string[] words = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (words.Length == 3 && words[0] == "memcg" && int.TryParse(words[1], NumberStyles.None, CultureInfo.InvariantCulture, out int id))
            {
                memcg = new MemcgGenerations(id, words[2], []);
                result.Add(memcg);
                node = null;
            }
            else if (words.Length == 2 && words[0] == "node" && memcg is not null && int.TryParse(words[1], NumberStyles.None, CultureInfo.InvariantCulture, out int nodeId))
            {
                node = new NodeGenerations(nodeId, []);
                memcg.Nodes.Add(node);
            }
            else if (words.Length == 4 && node is not null
                && ulong.TryParse(words[0], NumberStyles.None, CultureInfo.InvariantCulture, out ulong seq)
                && long.TryParse(words[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long ageMs))
            {
                node.Generations.Add(new Generation(seq, ageMs, Pages(words[2]), Pages(words[3])));
            }
        }
        return result;
    }

    /// <summary>A negative count (the kernel's transient underflow) reads as 0, as in Kata.</summary>
    private static ulong Pages(string word) =>
        ulong.TryParse(word, NumberStyles.None, CultureInfo.InvariantCulture, out ulong value) ? value : 0;
}

/// <summary>One memcg in the listing: its id (0: offline), its path below the memory cgroup root, its nodes.</summary>
public sealed record MemcgGenerations(int Id, string Path, List<NodeGenerations> Nodes);

/// <summary>One NUMA node's generations of a memcg.</summary>
public sealed record NodeGenerations(int Node, List<Generation> Generations)
{
    /// <summary>The youngest generation's sequence number.</summary>
    public ulong MaxSeq => Generations.Max(g => g.Seq);

    /// <summary>The oldest generation's sequence number.</summary>
    public ulong MinSeq => Generations.Min(g => g.Seq);

    /// <summary>The oldest generation, the one eviction takes pages from.</summary>
    public Generation Oldest => Generations.MinBy(g => g.Seq)!;

    /// <summary>How long ago the youngest generation was born.</summary>
    public TimeSpan YoungestAge => TimeSpan.FromMilliseconds(Generations.Min(g => g.AgeMs));
}

/// <summary>One generation: sequence number, age, anonymous and file pages.</summary>
public sealed record Generation(ulong Seq, long AgeMs, ulong Anon, ulong File);
