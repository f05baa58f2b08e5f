using System.Globalization;
using Microsoft.Extensions.Logging;
using KataAgent.Linux.Interop;

namespace KataAgent.Agent.MemAgent;

/// <summary>
/// One pass of Kata's memcg reclaimer (src/mem-agent/src/memcg.rs) over every memory cgroup and
/// NUMA node MGLRU lists: a memcg whose memory+io pressure over the period stayed within
/// <see cref="MemcgSettings.PeriodPsiPercentLimit"/>, and whose youngest generation is at least a
/// minute old (it is idle), gets an aging pass (<c>+ ID NODE MAX_SEQ SWAP 1</c>: a new generation,
/// so what was not touched since slides towards the oldest); once it has had
/// <see cref="MemcgSettings.EvictionRunAgingCountMin"/> of them, its oldest generation is evicted
/// (<c>- ID NODE MIN_SEQ SWAPPINESS 1</c>, repeated) while pages keep going, file pages remain (or
/// swap is allowed and free), all four generations exist and pressure stays within
/// <see cref="MemcgSettings.EvictionPsiPercentLimit"/>. Cold memory goes back to the guest's free
/// pool, where free page reporting returns it to the host.
/// </summary>
public sealed class MemcgReclaimer(MemAgentPaths paths, ILogger logger)
{
    /// <summary>MGLRU keeps four generations; eviction needs all of them (kernel MAX_NR_GENS).</summary>
    public const int MaxGenerations = 4;

    /// <summary>A memcg whose youngest generation is younger than this is in use: not aged (Kata's IDLE_FRESH_IGNORE_SECS).</summary>
    public static readonly TimeSpan IdleAge = TimeSpan.FromSeconds(60);

    /// <summary>Eviction steps per memcg and node and pass: a bound, so one pass always ends.</summary>
    private const int MaxEvictionSteps = 4096;

    private readonly Dictionary<(int Id, string Path, int Node), NodeState> _state = [];

    /// <summary>What the last pass did, for logs and tests: aging and eviction commands sent.</summary>
    public (int Aged, int EvictionSteps) LastPass { get; private set; }

    /// <summary>
    /// Whether MGLRU is usable: turns it fully on (writes 7 to lru_gen/enabled, as Kata does) and
    /// checks its debugfs file opens. Returns the problem, or null.
    /// </summary>
    public string? Prepare()
    {
        string enabled;
        try
        {
            enabled = File.ReadAllText(paths.LruGenEnabled).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"{paths.LruGenEnabled} cannot be read ({e.Message}): the guest kernel has no multi-gen LRU (CONFIG_LRU_GEN)";
        }
        if (enabled is not ("7" or "0x0007"))
        {
            try
            {
                File.WriteAllText(paths.LruGenEnabled, "7");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return $"{paths.LruGenEnabled}: cannot turn MGLRU on ({e.Message})";
            }
        }
        if (!File.Exists(paths.LruGen) && Guest.GuestInit.IsPid1 && Directory.Exists(paths.DebugFs))
        {
            // The guest's init is the agent: nobody else mounts debugfs, where MGLRU's interface lives.
            if (Libc.Mount("debugfs", paths.DebugFs, "debugfs", Libc.MS_NOSUID | Libc.MS_NODEV | Libc.MS_NOEXEC, null) != 0)
            {
                logger.LogWarning("mem-agent: mount debugfs on {Path}: errno {Errno}", paths.DebugFs, System.Runtime.InteropServices.Marshal.GetLastPInvokeError());
            }
        }
        if (!File.Exists(paths.LruGen))
        {
            return $"{paths.LruGen} does not exist: debugfs is not mounted on {paths.DebugFs}";
        }
        return null;
    }

    /// <summary>One pass with <paramref name="settings"/>.</summary>
    public void Run(MemcgSettings settings)
    {
        int aged = 0, steps = 0;
        var memcgs = LruGenListing.Parse(File.ReadAllText(paths.LruGen));
        var seen = new HashSet<(int, string, int)>();
        foreach (var memcg in memcgs.Where(m => m.Id != 0))
        {
            foreach (var node in memcg.Nodes.Where(n => n.Generations.Count > 0))
            {
                var key = (memcg.Id, memcg.Path, node.Node);
                seen.Add(key);
                if (!_state.TryGetValue(key, out var state))
                {
                    state = new NodeState(Pressure(memcg.Path));
                    _state[key] = state;
                }
                ulong percent;
                try
                {
                    percent = state.Period.Percent();
                }
                catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException)
                {
                    logger.LogDebug("mem-agent: memcg {Path}: no pressure reading ({Error})", memcg.Path, e.Message);
                    continue;
                }
                if (percent > settings.PeriodPsiPercentLimit)
                {
                    logger.LogInformation("mem-agent: memcg {Path} node {Node}: pressure {Percent}% over the period exceeds {Limit}%, left alone", memcg.Path, node.Node, percent, settings.PeriodPsiPercentLimit);
                    continue;
                }
                if (node.YoungestAge < IdleAge)
                {
                    logger.LogDebug("mem-agent: memcg {Path} node {Node}: in use (youngest generation {Age:0} s old)", memcg.Path, node.Node, node.YoungestAge.TotalSeconds);
                    continue;
                }
                Command($"+ {memcg.Id} {node.Node} {node.MaxSeq} {(settings.Swap ? 1 : 0)} 1");
                aged++;
                state.AgingCount++;
                if (state.AgingCount >= settings.EvictionRunAgingCountMin)
                {
                    steps += Evict(memcg, node.Node, settings);
                }
            }
        }
        foreach (var gone in _state.Keys.Where(k => !seen.Contains(k)).ToList())
        {
            _state.Remove(gone);
        }
        LastPass = (aged, steps);
        logger.LogInformation("mem-agent: memcg pass: {Aged} aging pass(es), {Steps} eviction step(s)", aged, steps);
    }

    private int Evict(MemcgGenerations memcg, int nodeId, MemcgSettings settings)
    {
        var pressure = Pressure(memcg.Path);
        pressure.Percent();
        bool swap = settings.Swap && SwapAvailable();
        bool onlySwap = false;
        ulong lastFile = 0, lastAnon = 0, released = 0;
        int steps = 0;
        for (bool first = true; steps < MaxEvictionSteps; first = false)
        {
            var node = Refresh(memcg, nodeId);
            if (node is null || node.MaxSeq - node.MinSeq + 1 != MaxGenerations)
            {
                break;
            }
            var oldest = node.Oldest;
            if (first)
            {
                if (oldest.File == 0)
                {
                    if (!swap || oldest.Anon == 0)
                    {
                        break;
                    }
                    onlySwap = true;
                }
            }
            else
            {
                if (oldest.File >= lastFile && oldest.Anon >= lastAnon)
                {
                    break; // the last step released nothing
                }
                released += (lastFile - Math.Min(lastFile, oldest.File)) + (lastAnon - Math.Min(lastAnon, oldest.Anon));
                if (!onlySwap && oldest.File == 0)
                {
                    break;
                }
                if (pressure.Percent() > settings.EvictionPsiPercentLimit)
                {
                    break;
                }
            }
            lastFile = oldest.File;
            lastAnon = oldest.Anon;
            uint swappiness;
            if (onlySwap)
            {
                if (!SwapAvailable())
                {
                    break;
                }
                swappiness = 200;
            }
            else if (!swap || oldest.Anon == 0 || !SwapAvailable())
            {
                swappiness = 0;
            }
            else
            {
                // Kata: anon's share of the oldest generation, on MGLRU's 0..200 scale, rounded.
                ulong share = (200 * oldest.Anon * 2 + oldest.Anon + oldest.File) / (2 * (oldest.Anon + oldest.File));
                swappiness = (uint)Math.Min(share, settings.SwappinessMax);
            }
            Command($"- {memcg.Id} {nodeId} {node.MinSeq} {swappiness} 1");
            steps++;
        }
        logger.LogInformation("mem-agent: memcg {Path} node {Node}: {Steps} eviction step(s), {Pages} page(s) released", memcg.Path, nodeId, steps, released);
        return steps;
    }

    private NodeGenerations? Refresh(MemcgGenerations memcg, int nodeId) =>
        LruGenListing.Parse(File.ReadAllText(paths.LruGen))
            .FirstOrDefault(m => m.Id == memcg.Id && m.Path == memcg.Path)?.Nodes.FirstOrDefault(n => n.Node == nodeId && n.Generations.Count > 0);

    /// <summary>
    /// Sends one command to lru_gen. Appending is what debugfs ignores anyway, and a fake file in
    /// a test keeps its listing and collects the commands after it.
    /// </summary>
    private void Command(string command)
    {
        logger.LogDebug("mem-agent: lru_gen {Command}", command);
        using var stream = new FileStream(paths.LruGen, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
        stream.Write(System.Text.Encoding.ASCII.GetBytes(command + "\n"));
    }

    private PressureWindow Pressure(string memcgPath) =>
        memcgPath == "/"
            ? new PressureWindow(paths.SystemPressure, systemWide: true, excludeChildren: false)
            : new PressureWindow(Path.Combine(paths.CgroupRoot, memcgPath.TrimStart('/')), systemWide: false, excludeChildren: true);

    /// <summary>Free swap above 256 pages (Kata's margin).</summary>
    private bool SwapAvailable() => MemInfoKb("SwapFree") > 256UL * (ulong)Environment.SystemPageSize / 1024;

    private ulong MemInfoKb(string key)
    {
        foreach (string line in File.ReadLines(paths.MemInfo))
        {
            if (line.StartsWith(key + ":", StringComparison.Ordinal))
            {
                string value = line[(key.Length + 1)..].Trim().Split(' ')[0];
                return ulong.Parse(value, CultureInfo.InvariantCulture);
            }
        }
        return 0;
    }

    private sealed class NodeState(PressureWindow period)
    {
        public PressureWindow Period { get; } = period;

        public ulong AgingCount { get; set; }
    }
}
