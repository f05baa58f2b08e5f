using KataAgent.Helpers.MemAgent;
using KataAgent.Helpers.Processes;
using System.Globalization;
using KataAgent.Agent.Containers.Processes;
using KataAgent.Agent.Processes;
using KataAgent.Linux.Interop;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.MemAgent;

/// <summary>
/// One check of Kata's compactor (src/mem-agent/src/compact.rs). Compaction gathers free pages into
/// blocks of 2^<see cref="CompactSettings.CompactOrder"/> pages (2 MiB by default), the size free
/// page reporting hands back to the host. It runs when memory+io pressure over the period stayed
/// within <see cref="CompactSettings.PeriodPsiPercentLimit"/> and it is worth it: free movable
/// memory in smaller blocks grew by more than <see cref="CompactSettings.CompactThreshold"/> pages
/// since the last compaction, or free memory fell by that much; or when
/// <see cref="CompactSettings.CompactForceTimes"/> checks in a row did not compact. It writes 1 to
/// <c>/proc/sys/vm/compact_memory</c> from a helper process (<see cref="CompactMemoryMode"/>), so it
/// can be killed: after <see cref="CompactSettings.CompactSecMax"/> seconds, or when pressure during
/// it exceeds <see cref="CompactSettings.CompactPsiPercentLimit"/>.
/// </summary>
public sealed class MemoryCompactor(MemAgentPaths paths, ProcessReaper reaper, ILogger logger)
{
    private readonly PressureWindow _period = new(paths.SystemPressure, systemWide: true, excludeChildren: false);
    private ulong _forceCounter;
    private ulong _previousFreeMovable;
    private ulong _previousMemFreeKb;

    /// <summary>How many compactions ran, for logs and tests.</summary>
    public int Compactions { get; private set; }

    /// <summary>One check, and a compaction when it is due.</summary>
    public async Task RunAsync(CompactSettings settings, CancellationToken cancellationToken)
    {
        bool work = PressureAllows(settings) && (Forced(settings) || WorthIt(settings));
        if (!work)
        {
            _forceCounter++;
            return;
        }
        await CompactAsync(settings, cancellationToken).ConfigureAwait(false);
        Compactions++;
        _previousMemFreeKb = MemFreeKb();
        _previousFreeMovable = FreeMovablePages(settings.CompactOrder);
        _forceCounter = 0;
    }

    private bool PressureAllows(CompactSettings settings)
    {
        ulong percent;
        try
        {
            percent = _period.Percent();
        }
        catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException)
        {
            logger.LogWarning("mem-agent: compaction skipped: no pressure reading ({Error})", e.Message);
            return false;
        }
        if (percent > settings.PeriodPsiPercentLimit)
        {
            logger.LogInformation("mem-agent: compaction skipped: pressure {Percent}% over the period exceeds {Limit}%", percent, settings.PeriodPsiPercentLimit);
            return false;
        }
        return true;
    }

    private bool Forced(CompactSettings settings) =>
        settings.CompactForceTimes != ulong.MaxValue && _forceCounter >= settings.CompactForceTimes;

    private bool WorthIt(CompactSettings settings)
    {
        ulong memFree = MemFreeKb();
        ulong movable = FreeMovablePages(settings.CompactOrder);
        // Kata compares kB with pages << 2: 4 KiB pages.
        if (_previousMemFreeKb > memFree + (settings.CompactThreshold << 2))
        {
            return true;
        }
        ulong threshold = settings.CompactThreshold + _previousFreeMovable;
        if (movable > threshold)
        {
            return true;
        }
        logger.LogInformation("mem-agent: compaction skipped: {Movable} free movable page(s) in blocks below order {Order}, threshold {Threshold}", movable, settings.CompactOrder, threshold);
        return false;
    }

    private async Task CompactAsync(CompactSettings settings, CancellationToken cancellationToken)
    {
        logger.LogInformation("mem-agent: compacting memory (at most {Seconds} s)", settings.CompactSecMax);
        var pressure = new PressureWindow(paths.SystemPressure, systemWide: true, excludeChildren: false);
        pressure.Percent();
        var (pid, exit) = reaper.SpawnWatched(() => ProcessSpawner.Spawn(InitHelper.ExecutablePath, [InitHelper.FileName, CompactMemoryMode.Argument, paths.CompactMemory], [], []));
        long remaining = settings.CompactSecMax;
        bool killed = false;
        while (!exit.IsCompleted)
        {
            var tick = Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            await Task.WhenAny(exit, tick).ConfigureAwait(false);
            if (exit.IsCompleted)
            {
                break;
            }
            if (cancellationToken.IsCancellationRequested)
            {
                Libc.Kill(pid, Libc.SIGKILL);
                break;
            }
            remaining--;
            if (!killed && remaining <= 0)
            {
                logger.LogInformation("mem-agent: compaction stopped after {Seconds} s", settings.CompactSecMax);
                Libc.Kill(pid, Libc.SIGKILL);
                killed = true;
            }
            else if (!killed && pressure.Percent() > settings.CompactPsiPercentLimit)
            {
                logger.LogInformation("mem-agent: compaction stopped: pressure exceeds {Limit}%", settings.CompactPsiPercentLimit);
                Libc.Kill(pid, Libc.SIGKILL);
                killed = true;
            }
        }
        int status = await exit.ConfigureAwait(false);
        if (status != 0 && !killed)
        {
            logger.LogWarning("mem-agent: writing {Path} failed (exit {Status})", paths.CompactMemory, status);
        }
    }

    private ulong MemFreeKb()
    {
        foreach (string line in File.ReadLines(paths.MemInfo))
        {
            if (line.StartsWith("MemFree:", StringComparison.Ordinal))
            {
                return ulong.Parse(line["MemFree:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
            }
        }
        return 0;
    }

    /// <summary>
    /// Free movable pages in blocks below <paramref name="order"/>, from /proc/pagetypeinfo's
    /// "Node 0, zone Normal, type Movable N0 N1 …" lines (count × 2^order each).
    /// </summary>
    public ulong FreeMovablePages(uint order)
    {
        ulong total = 0;
        foreach (string line in File.ReadLines(paths.PageTypeInfo))
        {
            string[] words = line.Split([' ', ','], StringSplitOptions.RemoveEmptyEntries);
            int type = Array.IndexOf(words, "Movable");
            if (type < 0 || Array.IndexOf(words, "type") != type - 1)
            {
                continue;
            }
            for (int o = 0; type + 1 + o < words.Length && o < order; o++)
            {
                if (ulong.TryParse(words[type + 1 + o], NumberStyles.None, CultureInfo.InvariantCulture, out ulong count))
                {
                    total += count << o;
                }
            }
        }
        return total;
    }
}
