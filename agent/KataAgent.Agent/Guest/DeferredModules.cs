using KataAgent.Agent.Errors;

namespace KataAgent.Agent.Guest;

/// <summary>
/// The image's boot modules that the agent channel does not need (block, net, overlay, virtio-fs; see
/// <see cref="DeferredNames"/>): PID 1 loads them on a background thread once the server listens, so the first
/// answer does not wait for them, and every operation that needs one calls <see cref="RequireAsync"/> first, which
/// waits until that module's load has ended and throws an <see cref="AgentException"/> naming the module when it
/// failed or is still loading after <see cref="WaitLimit"/>. A module this set does not hold (a stand-alone agent,
/// an image without it, a module loaded before serving) is never waited for: the operation goes on and meets the
/// kernel's own answer, as it did before modules were deferred.
/// </summary>
public sealed class DeferredModules
{
    /// <summary>Modules nothing needs before the first answer: virtio-blk, virtio-net (and the failover pair it
    /// depends on), vsock loopback (in-guest tests only), overlayfs, fuse and virtio-fs. The rest of the image's list
    /// (virtio over PCI, the console ports, vsock and its virtio transport, virtio-rng for getrandom) is the agent
    /// channel's or every process start's, and loads before the server starts.</summary>
    public static IReadOnlySet<string> DeferredNames { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        "virtio_blk", "failover", "net_failover", "virtio_net", "vsock_loopback", "overlay", "fuse", "virtiofs",
    };

    /// <summary>The module behind virtio-blk disks.</summary>
    public const string VirtioBlk = "virtio_blk";

    /// <summary>The module behind virtio-net interfaces.</summary>
    public const string VirtioNet = "virtio_net";

    /// <summary>overlayfs.</summary>
    public const string Overlay = "overlay";

    /// <summary>virtio-fs (it depends on fuse, loaded before it).</summary>
    public const string VirtioFs = "virtiofs";

    /// <summary>fuse.</summary>
    public const string Fuse = "fuse";

    private readonly object _gate = new();
    private readonly List<(string Name, string Path)> _order;
    private readonly Dictionary<string, TaskCompletionSource<string?>> _outcomes;
    private readonly Func<string, Action<string>, string?> _load;
    private Thread? _loader;

    /// <summary>
    /// A set of modules to load in <paramref name="modules"/>' order (the image's dependency order) with
    /// <paramref name="load"/> (the module's path, where to tell a warning), which returns null once the module is
    /// loaded, or why it is not.
    /// </summary>
    public DeferredModules(IEnumerable<(string Name, string Path)> modules, Func<string, Action<string>, string?> load, TimeSpan? waitLimit = null)
    {
        _order = [.. modules];
        _outcomes = _order.ToDictionary(m => m.Name, _ => new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously), StringComparer.Ordinal);
        _load = load;
        WaitLimit = waitLimit ?? TimeSpan.FromSeconds(60);
    }

    /// <summary>The guest's set, which <see cref="GuestInit.Prepare"/> fills as PID 1; empty (nothing waits) otherwise.</summary>
    public static DeferredModules Boot { get; internal set; } = new([], (_, _) => null);

    /// <summary>How long <see cref="RequireAsync"/> waits for a module before it gives up.</summary>
    public TimeSpan WaitLimit { get; }

    /// <summary>The modules of this set, in load order.</summary>
    public IReadOnlyList<string> Names => _order.ConvertAll(m => m.Name);

    /// <summary>The deferred modules a mount of filesystem type <paramref name="type"/> needs (none for most types).</summary>
    public static string[] ForFilesystem(string? type) => type switch
    {
        "overlay" => [Overlay],
        "virtiofs" => [Fuse, VirtioFs],
        "fuse" => [Fuse],
        { } fuse when fuse.StartsWith("fuse.", StringComparison.Ordinal) => [Fuse],
        _ => [],
    };

    /// <summary>Whether <paramref name="name"/> (a module file's name, <c>-</c> or <c>_</c>) is one to load later.</summary>
    public static bool IsDeferred(string name) => DeferredNames.Contains(name.Replace('-', '_'));

    /// <summary>
    /// Starts loading the set on a background thread of the lowest priority (it must not slow the answers it was
    /// deferred for; an operation waiting for it leaves the CPU to it). <paramref name="warn"/> hears each failure,
    /// <paramref name="inform"/> a summary at the end. Only the first call starts anything.
    /// </summary>
    public void StartLoading(Action<string> warn, Action<string> inform)
    {
        lock (_gate)
        {
            if (_loader is not null || _order.Count == 0)
            {
                return;
            }
            _loader = new Thread(() => LoadAll(warn, inform)) { IsBackground = true, Name = "deferred modules" };
            _loader.Start();
        }
    }

    /// <summary>Loads the set on the calling thread (what the background thread runs).</summary>
    internal void LoadAll(Action<string> warn, Action<string> inform)
    {
        Interop.AgentLibc.LowerThreadPriority();
        var started = System.Diagnostics.Stopwatch.StartNew();
        int failed = 0;
        foreach (var (name, path) in _order)
        {
            string? error;
            try
            {
                error = _load(path, warn);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                error = e.Message;
            }
            if (error is not null)
            {
                failed++;
                warn($"deferred kernel module {name}: {error}");
            }
            _outcomes[name].TrySetResult(error);
        }
        inform(string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"deferred kernel modules: {_order.Count - failed} of {_order.Count} loaded in {started.Elapsed.TotalSeconds:0.000} s, at uptime {BootTimeline.Uptime:0.000} s ({string.Join(' ', Names)})"));
    }

    /// <summary>
    /// Waits until each of <paramref name="names"/> this set holds has been loaded. <paramref name="purpose"/> says
    /// what needs it (e.g. <c>storages[0] (blk)</c>) and goes into the error.
    /// </summary>
    /// <exception cref="AgentException">INTERNAL: a module failed to load (the message names it and says why);
    /// UNAVAILABLE: one is still loading after <see cref="WaitLimit"/>.</exception>
    public async Task RequireAsync(string purpose, CancellationToken cancellationToken, params string[] names)
    {
        foreach (string name in names)
        {
            if (!_outcomes.TryGetValue(name, out var outcome))
            {
                continue;
            }
            string? error;
            try
            {
                error = await outcome.Task.WaitAsync(WaitLimit, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                throw new AgentException(AgentErrorKind.Unavailable, null,
                    $"{purpose} needs kernel module {name}, which is still loading after {WaitLimit.TotalSeconds:0} s");
            }
            if (error is not null)
            {
                throw new AgentException(AgentErrorKind.Internal, null, $"{purpose} needs kernel module {name}, which failed to load: {error}");
            }
        }
    }

    /// <summary><see cref="RequireAsync"/> for a synchronous path (blocks the calling thread).</summary>
    public void Require(string purpose, params string[] names) =>
        RequireAsync(purpose, CancellationToken.None, names).GetAwaiter().GetResult();
}
