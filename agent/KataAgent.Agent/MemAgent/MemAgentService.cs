using KataAgent.Agent.Config;
using KataAgent.Agent.Containers.Cgroups;
using KataAgent.Agent.Containers.Processes;
using KataAgent.Agent.Errors;
using KataAgent.Protocols.Agent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.MemAgent;

/// <summary>
/// The in-guest mem-agent of Kata (src/mem-agent): two loops, each on its own period, that give
/// cold memory back: the memcg reclaimer (<see cref="MemcgReclaimer"/>, MGLRU aging and eviction
/// per memory cgroup) and the compactor (<see cref="MemoryCompactor"/>). Off unless the guest boots
/// with <c>agent.mem_agent_enable</c>; MemAgentMemcgSet and MemAgentCompactSet change the settings of
/// a running mem-agent (a field left unset keeps its value), and the loop concerned re-plans its
/// next run from its last one at once.
/// </summary>
public sealed class MemAgentService : BackgroundService
{
    private readonly AgentConfig _config;
    private readonly ILogger<MemAgentService> _logger;
    private readonly MemAgentPaths _paths;
    private readonly ProcessReaper _reaper;
    private readonly SemaphoreSlim _memcgWake = new(0);
    private readonly SemaphoreSlim _compactWake = new(0);
    private readonly object _gate = new();
    private MemcgSettings _memcg;
    private CompactSettings _compact;
    private readonly MemcgReclaimer? _reclaimer;
    private readonly string? _memcgUnavailable;

    public MemAgentService(AgentConfig config, ProcessReaper reaper, ILogger<MemAgentService> logger)
    {
        _config = config;
        _reaper = reaper;
        _logger = logger;
        _memcg = config.MemcgSettings;
        _compact = config.CompactSettings;
        _paths = new MemAgentPaths(config.ProcRoot, config.SysfsRoot, config.CgroupRoot ?? Cgroup2Mount.Find() ?? "/sys/fs/cgroup");
        if (config.MemAgentEnabled)
        {
            // Decided here, before any RPC can ask: the server may serve before the loops start.
            _reclaimer = new MemcgReclaimer(_paths, logger);
            _memcgUnavailable = _reclaimer.Prepare();
        }
    }

    /// <summary>The memcg reclaimer's settings in force.</summary>
    public MemcgSettings Memcg
    {
        get
        {
            lock (_gate)
            {
                return _memcg;
            }
        }
    }

    /// <summary>The compactor's settings in force.</summary>
    public CompactSettings Compact
    {
        get
        {
            lock (_gate)
            {
                return _compact;
            }
        }
    }

    /// <summary>MemAgentMemcgSet: validates, then applies the fields that are set.</summary>
    public void SetMemcg(MemAgentMemcgConfig request)
    {
        RequireEnabled();
        if (_memcgUnavailable is { } problem)
        {
            throw AgentException.FailedPrecondition(null, $"the mem-agent's memcg reclaimer is unavailable: {problem}");
        }
        lock (_gate)
        {
            var s = _memcg;
            if (request.HasDisabled) s = s with { Disabled = request.Disabled };
            if (request.HasSwap) s = s with { Swap = request.Swap };
            if (request.HasSwappinessMax) s = s with { SwappinessMax = Bounded(request.SwappinessMax, 200, "swappiness_max") };
            if (request.HasPeriodSecs) s = s with { PeriodSecs = Period(request.PeriodSecs, "period_secs") };
            if (request.HasPeriodPsiPercentLimit) s = s with { PeriodPsiPercentLimit = Bounded(request.PeriodPsiPercentLimit, 100, "period_psi_percent_limit") };
            if (request.HasEvictionPsiPercentLimit) s = s with { EvictionPsiPercentLimit = Bounded(request.EvictionPsiPercentLimit, 100, "eviction_psi_percent_limit") };
            if (request.HasEvictionRunAgingCountMin) s = s with { EvictionRunAgingCountMin = request.EvictionRunAgingCountMin };
            _memcg = s;
            _logger.LogInformation("mem-agent: memcg settings {Settings}", s);
        }
        _memcgWake.Release();
    }

    /// <summary>MemAgentCompactSet: validates, then applies the fields that are set.</summary>
    public void SetCompact(MemAgentCompactConfig request)
    {
        RequireEnabled();
        lock (_gate)
        {
            var s = _compact;
            if (request.HasDisabled) s = s with { Disabled = request.Disabled };
            if (request.HasPeriodSecs) s = s with { PeriodSecs = Period(request.PeriodSecs, "period_secs") };
            if (request.HasPeriodPsiPercentLimit) s = s with { PeriodPsiPercentLimit = Bounded(request.PeriodPsiPercentLimit, 100, "period_psi_percent_limit") };
            if (request.HasCompactPsiPercentLimit) s = s with { CompactPsiPercentLimit = Bounded(request.CompactPsiPercentLimit, 100, "compact_psi_percent_limit") };
            if (request.HasCompactSecMax) s = s with { CompactSecMax = request.CompactSecMax is >= 1 and <= int.MaxValue ? request.CompactSecMax : throw AgentException.InvalidArgument("compact_sec_max", $"{request.CompactSecMax} is not in 1..{int.MaxValue} seconds") };
            if (request.HasCompactOrder) s = s with { CompactOrder = Bounded(request.CompactOrder, 10, "compact_order") };
            if (request.HasCompactThreshold) s = s with { CompactThreshold = request.CompactThreshold };
            if (request.HasCompactForceTimes) s = s with { CompactForceTimes = request.CompactForceTimes };
            _compact = s;
            _logger.LogInformation("mem-agent: compaction settings {Settings}", s);
        }
        _compactWake.Release();
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_config.MemAgentEnabled)
        {
            return Task.CompletedTask;
        }
        var reclaimer = _reclaimer!;
        if (_memcgUnavailable is not null)
        {
            _logger.LogWarning("mem-agent: memcg reclaimer unavailable: {Problem}", _memcgUnavailable);
        }
        var compactor = new MemoryCompactor(_paths, _reaper, _logger);
        _logger.LogInformation("mem-agent started: memcg {Memcg}, compaction {Compact}", Memcg, Compact);
        var memcgLoop = _memcgUnavailable is null
            ? LoopAsync("memcg", () => (Memcg.Disabled, Memcg.PeriodSecs), _ => { reclaimer.Run(Memcg); return Task.CompletedTask; }, _memcgWake, stoppingToken)
            : Task.CompletedTask;
        var compactLoop = LoopAsync("compaction", () => (Compact.Disabled, Compact.PeriodSecs), token => compactor.RunAsync(Compact, token), _compactWake, stoppingToken);
        return Task.WhenAll(memcgLoop, compactLoop);
    }

    /// <summary>Runs <paramref name="work"/> every period from the last run; a wake re-reads the settings.</summary>
    private async Task LoopAsync(string name, Func<(bool Disabled, ulong PeriodSecs)> settings, Func<CancellationToken, Task> work, SemaphoreSlim wake, CancellationToken stoppingToken)
    {
        var last = DateTime.UtcNow;
        while (!stoppingToken.IsCancellationRequested)
        {
            var (disabled, periodSecs) = settings();
            try
            {
                if (disabled)
                {
                    await wake.WaitAsync(stoppingToken).ConfigureAwait(false);
                    // Kata restarts the timer when a loop is turned back on.
                    last = DateTime.UtcNow;
                    continue;
                }
                var due = last + TimeSpan.FromSeconds(periodSecs) - DateTime.UtcNow;
                if (due > TimeSpan.Zero)
                {
                    await wake.WaitAsync(due, stoppingToken).ConfigureAwait(false);
                    continue;
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
            last = DateTime.UtcNow;
            try
            {
                await Task.Run(() => work(stoppingToken), stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                _logger.LogWarning("mem-agent: {Loop} pass failed: {Error}", name, e.Message);
            }
        }
    }

    private void RequireEnabled()
    {
        if (!_config.MemAgentEnabled)
        {
            throw AgentException.FailedPrecondition(null, "the mem-agent is disabled: boot the guest with agent.mem_agent_enable to run it");
        }
    }

    private static uint Bounded(uint value, uint max, string field) =>
        value <= max ? value : throw AgentException.InvalidArgument(field, $"{value} is above {max}");

    private static ulong Period(ulong value, string field) =>
        value is >= 1 and <= int.MaxValue ? value : throw AgentException.InvalidArgument(field, $"{value} is not in 1..{int.MaxValue} seconds");

    public override void Dispose()
    {
        _memcgWake.Dispose();
        _compactWake.Dispose();
        base.Dispose();
    }
}
