namespace KataAgent.Bench;

/// <summary>An agent process's resident memory in KiB (all of it, anonymous, file-backed) and its thread count.</summary>
internal readonly record struct AgentMemory(long Rss, long Anonymous, long File, int Threads)
{
    /// <summary>"26.1 MiB (11.0 anon + 15.1 file), 13 threads".</summary>
    public string Describe() => $"{Rss / 1024.0:0.0} MiB ({Anonymous / 1024.0:0.0} anon + {File / 1024.0:0.0} file), {Threads} threads";
}
