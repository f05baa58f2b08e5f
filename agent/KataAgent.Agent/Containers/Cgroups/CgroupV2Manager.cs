using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using KataAgent.Linux.Interop;
using KataAgent.Protocols.Agent;

namespace KataAgent.Agent.Containers.Cgroups;

/// <summary>
/// One container's cgroup on the unified (v2) hierarchy: creation with controller delegation,
/// OCI resources translated to v2 files the way runc and crun translate them, freeze/thaw,
/// kill, removal and Kata-shaped statistics. The mount root is injectable so tests can point it
/// at a fake tree of plain files.
/// </summary>
public sealed class CgroupV2Manager
{
    /// <summary>Where the unified hierarchy is mounted in a guest.</summary>
    public const string DefaultMountRoot = "/sys/fs/cgroup";

    /// <summary>Controllers enabled for containers, in this order, when the parent offers them.</summary>
    public static IReadOnlyList<string> Controllers { get; } = ["cpuset", "cpu", "io", "memory", "hugetlb", "pids"];

    private const int SIGKILL = 9;
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(10);

    /// <param name="relativePath">The cgroup below the root ("kata/abc" or "/kata/abc"); normalised by <see cref="CgroupPath.Normalize"/>.</param>
    /// <param name="mountRoot">The cgroup2 mount point.</param>
    public CgroupV2Manager(string relativePath, string mountRoot = DefaultMountRoot)
    {
        ArgumentException.ThrowIfNullOrEmpty(mountRoot);
        MountRoot = mountRoot.Length > 1 ? mountRoot.TrimEnd('/') : mountRoot;
        RelativePath = CgroupPath.Normalize(relativePath);
        CgroupDirectory = Path.Combine(MountRoot, RelativePath);
    }

    /// <summary>The manager for a container, from its OCI <c>Linux.CgroupsPath</c> (see <see cref="CgroupPath.ForContainer"/>).</summary>
    public static CgroupV2Manager ForContainer(string containerId, string? ociCgroupsPath, string mountRoot = DefaultMountRoot) =>
        new(CgroupPath.ForContainer(ociCgroupsPath, containerId), mountRoot);

    public string MountRoot { get; }

    /// <summary>The normalised path below the root, e.g. "kata/abc".</summary>
    public string RelativePath { get; }

    /// <summary>The cgroup's directory.</summary>
    public string CgroupDirectory { get; }

    /// <summary>How long <see cref="Freeze"/> and <see cref="Thaw"/> wait for cgroup.events to agree.</summary>
    public TimeSpan FreezeTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long <see cref="Destroy"/> waits for the processes to go and the directory to become removable.</summary>
    public TimeSpan DestroyTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>True when the cgroup directory exists.</summary>
    public bool Exists => Directory.Exists(CgroupDirectory);

    /// <summary>
    /// Creates the cgroup and its missing ancestors (mkdir -p), enabling <see cref="Controllers"/>
    /// that each ancestor offers (cgroup.controllers) in its cgroup.subtree_control, so the new
    /// cgroup gets their interface files. Idempotent.
    /// </summary>
    public void Create()
    {
        string current = MountRoot;
        foreach (string segment in RelativePath.Split('/'))
        {
            EnableControllers(current);
            current = Path.Combine(current, segment);
            int errno = CgroupFile.MakeDirectory(current);
            if (errno != 0 && errno != Errno.EEXIST)
            {
                var cause = new LinuxException($"mkdir {current}", errno);
                throw new CgroupException($"creating cgroup {current} failed: {cause.Message}", current, null, errno, cause);
            }
        }
    }

    /// <summary>Moves process <paramref name="pid"/> (all its threads) into the cgroup.</summary>
    public void AddProcess(int pid) =>
        CgroupFile.Write(CgroupDirectory, "cgroup.procs", pid.ToString(CultureInfo.InvariantCulture));

    /// <summary>The processes in this cgroup (not its descendants).</summary>
    public IReadOnlyList<int> Pids() => CgroupFile.ParsePids(CgroupFile.Read(CgroupDirectory, "cgroup.procs"));

    /// <summary>
    /// Applies a container's resources at creation. Returns warnings for fields cgroup v2 cannot
    /// express (kernel memory, swappiness, OOM-killer disable, real-time CPU, leaf weights,
    /// net_cls/net_prio, device rules); they are ignored, not errors.
    /// </summary>
    public IReadOnlyList<string> Apply(LinuxResources resources) => Set(resources, update: false);

    /// <summary>
    /// Applies only the fields present (UpdateContainer): absent messages and zero scalars leave
    /// the current value alone, as in Kata's rustjail. A CPU period or memory limit not given is
    /// kept from the cgroup's current cpu.max / memory.max.
    /// </summary>
    public IReadOnlyList<string> Update(LinuxResources resources) => Set(resources, update: true);

    /// <summary>Freezes every process in the cgroup and waits until cgroup.events reports "frozen 1".</summary>
    public void Freeze() => SetFrozen(true);

    /// <summary>Thaws the cgroup and waits until cgroup.events reports "frozen 0".</summary>
    public void Thaw() => SetFrozen(false);

    /// <summary>True when cgroup.events reports the cgroup frozen.</summary>
    public bool IsFrozen() => EventsValue("frozen") == 1;

    /// <summary>
    /// SIGKILLs every process in the cgroup and its descendants: through cgroup.kill (kernel 5.14+),
    /// otherwise by freezing (when possible), signalling each listed process and thawing.
    /// Does not wait; see <see cref="Destroy"/>.
    /// </summary>
    public void Kill()
    {
        try
        {
            CgroupFile.Write(CgroupDirectory, "cgroup.kill", "1");
            return;
        }
        catch (CgroupException e) when (e.Errno == Errno.ENOENT && Directory.Exists(CgroupDirectory))
        {
            // No cgroup.kill before Linux 5.14.
        }
        KillEach(CgroupDirectory);
    }

    /// <summary>
    /// Kills what is left, waits (bounded by <see cref="DestroyTimeout"/>) until the cgroup is
    /// empty and removes it with any child cgroups the container made. Its parents stay. A cgroup
    /// that is already gone is not an error.
    /// </summary>
    public void Destroy()
    {
        if (!Directory.Exists(CgroupDirectory))
        {
            return;
        }
        try
        {
            Kill();
        }
        catch (CgroupException e) when (e.Errno == Errno.ENOENT)
        {
            return;
        }
        var deadline = Stopwatch.StartNew();
        while (Populated())
        {
            if (deadline.Elapsed >= DestroyTimeout)
            {
                string pids = Directory.Exists(CgroupDirectory) ? string.Join(", ", SafePids()) : "";
                throw new CgroupException(
                    $"cgroup {CgroupDirectory} still has processes [{pids}] {DestroyTimeout.TotalSeconds:0.#} s after SIGKILL",
                    Path.Combine(CgroupDirectory, "cgroup.procs"));
            }
            Thread.Sleep(PollInterval);
        }
        RemoveTree(CgroupDirectory, deadline);
    }

    /// <summary>
    /// Statistics in Kata's (v1-shaped) message: cpu.stat, memory.*, pids.*, io.stat and
    /// hugetlb.*. Parts whose controller is not enabled are left unset.
    /// </summary>
    public CgroupStats Stats()
    {
        if (!Directory.Exists(CgroupDirectory))
        {
            throw new CgroupException($"cgroup {CgroupDirectory} does not exist", CgroupDirectory, null, Errno.ENOENT);
        }
        return CgroupV2StatsReader.Read(CgroupDirectory);
    }

    /// <summary>Starts watching this cgroup's memory.events for OOM kills (see <see cref="OomWatcher"/>).</summary>
    public OomWatcher WatchOom(string containerId, Action<string> onOomKill) =>
        new(Path.Combine(CgroupDirectory, "memory.events"), containerId, onOomKill);

    private void EnableControllers(string directory)
    {
        string offeredText = CgroupFile.TryRead(directory, "cgroup.controllers")
            ?? throw new CgroupException($"{directory} is not a cgroup v2 directory: it has no cgroup.controllers", Path.Combine(directory, "cgroup.controllers"), null, Errno.ENOENT);
        string enabledText = CgroupFile.Read(directory, "cgroup.subtree_control");
        var offered = offeredText.Split((char[])[' ', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
        var enabled = enabledText.Split((char[])[' ', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries).Select(c => c.TrimStart('+')).ToHashSet(StringComparer.Ordinal);
        var wanted = Controllers.Where(c => offered.Contains(c) && !enabled.Contains(c)).ToList();
        if (wanted.Count == 0)
        {
            return;
        }
        try
        {
            CgroupFile.Write(directory, "cgroup.subtree_control", string.Join(' ', wanted.Select(c => "+" + c)));
        }
        catch (CgroupException)
        {
            // Find the controller the kernel refused, so the error can name it.
            foreach (string controller in wanted)
            {
                try
                {
                    CgroupFile.Write(directory, "cgroup.subtree_control", "+" + controller);
                }
                catch (CgroupException e)
                {
                    throw new CgroupException($"enabling the '{controller}' controller in {e.FilePath} failed: {e.Message}", e.FilePath, controller, e.Errno, e);
                }
            }
        }
    }

    private List<string> Set(LinuxResources resources, bool update)
    {
        ArgumentNullException.ThrowIfNull(resources);
        var warnings = new List<string>();
        if (resources.CPU is { } cpu)
        {
            SetCpu(cpu, update, warnings);
        }
        if (resources.Memory is { } memory)
        {
            SetMemory(memory, update, warnings);
        }
        if (resources.Pids is { } pids)
        {
            Write("pids.max", pids.Limit > 0 ? Text(pids.Limit) : "max");
        }
        if (resources.BlockIO is { } blockIO)
        {
            SetBlockIO(blockIO, warnings);
        }
        foreach (var hugepage in resources.HugepageLimits)
        {
            if (hugepage.Pagesize.Length == 0 || !hugepage.Pagesize.All(char.IsAsciiLetterOrDigit))
            {
                throw new CgroupException($"invalid huge page size '{hugepage.Pagesize}' (expected e.g. \"2MB\" or \"1GB\")");
            }
            Write($"hugetlb.{hugepage.Pagesize}.max", Text(hugepage.Limit));
        }
        if (resources.Network is { } network && (network.ClassID != 0 || network.Priorities.Count > 0))
        {
            warnings.Add("Network (net_cls class id / net_prio priorities) is cgroup v1 only; ignored");
        }
        if (resources.Devices.Count > 0)
        {
            warnings.Add($"Devices ({resources.Devices.Count} rules): cgroup v2 device control needs an eBPF program, which this manager does not install; ignored");
        }
        return warnings;
    }

    private void SetCpu(LinuxCPU cpu, bool update, List<string> warnings)
    {
        if (cpu.Cpus.Length > 0)
        {
            try
            {
                Write("cpuset.cpus", cpu.Cpus);
            }
            catch (CgroupException e) when (e.Errno != Errno.ENOENT)
            {
                // As Kata: the host's CPU list may name CPUs this guest does not have (yet).
                warnings.Add($"cpuset.cpus '{cpu.Cpus}' not applied: {e.Message}");
            }
        }
        if (cpu.Mems.Length > 0)
        {
            Write("cpuset.mems", cpu.Mems);
        }
        ulong weight = CgroupV2Conversions.CpuSharesToWeight(cpu.Shares);
        if (weight != 0)
        {
            Write("cpu.weight", Text(weight));
        }
        if (cpu.Quota != 0 || cpu.Period != 0)
        {
            // cpu.max is "$MAX [$PERIOD]": a quota alone keeps the period; a period alone needs the current quota.
            string quota = cpu.Quota > 0 ? Text(cpu.Quota) : cpu.Quota < 0 ? "max" : CurrentCpuQuota();
            string? period = cpu.Period != 0 ? Text(cpu.Period) : update ? null : "100000";
            Write("cpu.max", period is null ? quota : $"{quota} {period}");
        }
        if (cpu.RealtimeRuntime != 0 || cpu.RealtimePeriod != 0)
        {
            warnings.Add("CPU RealtimeRuntime/RealtimePeriod are cgroup v1 only; ignored");
        }
    }

    private string CurrentCpuQuota()
    {
        string text = CgroupFile.Read(CgroupDirectory, "cpu.max").Trim();
        int space = text.IndexOf(' ');
        return space < 0 ? text : text[..space];
    }

    private void SetMemory(LinuxMemory memory, bool update, List<string> warnings)
    {
        long limitForSwap = memory.Limit;
        if (update && memory.Limit == 0 && memory.Swap > 0)
        {
            // An update of swap alone: memory+swap is relative to the limit already in force.
            string current = CgroupFile.Read(CgroupDirectory, "memory.max").Trim();
            limitForSwap = long.TryParse(current, NumberStyles.None, CultureInfo.InvariantCulture, out long value) ? value : -1;
        }
        string? swap = CgroupV2Conversions.MemorySwapToV2(memory.Swap, limitForSwap);
        string? max = CgroupV2Conversions.MemoryValue(memory.Limit, "limit");
        string? low = CgroupV2Conversions.MemoryValue(memory.Reservation, "reservation");
        if (swap is not null)
        {
            if (swap == "max" && !CgroupFile.Exists(CgroupDirectory, "memory.swap.max") && Directory.Exists(CgroupDirectory))
            {
                warnings.Add("memory.swap.max does not exist (no swap accounting in this kernel); unlimited swap needs no limit");
            }
            else
            {
                Write("memory.swap.max", swap);
            }
        }
        if (max is not null)
        {
            Write("memory.max", max);
        }
        if (low is not null)
        {
            Write("memory.low", low);
        }
        if (memory.Kernel != 0)
        {
            warnings.Add("Memory.Kernel (kernel memory limit) is cgroup v1 only; ignored");
        }
        if (memory.KernelTCP != 0)
        {
            warnings.Add("Memory.KernelTCP (kernel TCP memory limit) is cgroup v1 only; ignored");
        }
        if (memory.Swappiness != 0)
        {
            warnings.Add("Memory.Swappiness is cgroup v1 only; ignored");
        }
        if (memory.DisableOOMKiller)
        {
            warnings.Add("Memory.DisableOOMKiller is cgroup v1 only; ignored");
        }
    }

    private void SetBlockIO(LinuxBlockIO blockIO, List<string> warnings)
    {
        // Like runc and crun: BFQ's io.bfq.weight takes the v1 scale as is; otherwise io.weight, converted.
        bool bfq = CgroupFile.Exists(CgroupDirectory, "io.bfq.weight");
        if (blockIO.Weight != 0)
        {
            if (bfq)
            {
                Write("io.bfq.weight", Text(blockIO.Weight));
            }
            else
            {
                Write("io.weight", Text(CgroupV2Conversions.BlkioWeightToIoWeight(blockIO.Weight)));
            }
        }
        if (blockIO.LeafWeight != 0 || blockIO.WeightDevice.Any(d => d.LeafWeight != 0))
        {
            warnings.Add("BlockIO LeafWeight is cgroup v1 only; ignored");
        }

        var deviceWeights = new List<string>();
        foreach (var device in blockIO.WeightDevice)
        {
            if (device.Weight != 0)
            {
                ulong weight = bfq ? device.Weight : CgroupV2Conversions.BlkioWeightToIoWeight(device.Weight);
                deviceWeights.Add($"{Device(device.Major, device.Minor)} {Text(weight)}\n");
            }
        }
        if (deviceWeights.Count > 0)
        {
            WriteEach(bfq ? "io.bfq.weight" : "io.weight", deviceWeights);
        }

        // One io.max line per device with every limit given for it; a v1 rate of 0 (no limit) is "max".
        var limits = new List<(string Device, List<string> Keys)>();
        void AddLimits(IEnumerable<LinuxThrottleDevice> devices, string key)
        {
            foreach (var device in devices)
            {
                string name = Device(device.Major, device.Minor);
                int index = limits.FindIndex(l => l.Device == name);
                if (index < 0)
                {
                    limits.Add((name, []));
                    index = limits.Count - 1;
                }
                limits[index].Keys.Add($"{key}={(device.Rate == 0 ? "max" : Text(device.Rate))}");
            }
        }
        AddLimits(blockIO.ThrottleReadBpsDevice, "rbps");
        AddLimits(blockIO.ThrottleWriteBpsDevice, "wbps");
        AddLimits(blockIO.ThrottleReadIOPSDevice, "riops");
        AddLimits(blockIO.ThrottleWriteIOPSDevice, "wiops");
        if (limits.Count > 0)
        {
            WriteEach("io.max", limits.Select(l => $"{l.Device} {string.Join(' ', l.Keys)}\n").ToList());
        }
    }

    private static string Device(long major, long minor)
    {
        if (major < 0 || minor < 0)
        {
            throw new CgroupException($"invalid block device {major}:{minor}: major and minor must not be negative");
        }
        return $"{Text(major)}:{Text(minor)}";
    }

    private void SetFrozen(bool frozen)
    {
        Write("cgroup.freeze", frozen ? "1" : "0");
        var deadline = Stopwatch.StartNew();
        while (IsFrozen() != frozen)
        {
            if (deadline.Elapsed >= FreezeTimeout)
            {
                if (frozen)
                {
                    // Do not leave the cgroup half-frozen.
                    try
                    {
                        Write("cgroup.freeze", "0");
                    }
                    catch (CgroupException)
                    {
                    }
                }
                throw new CgroupException(
                    $"{Path.Combine(CgroupDirectory, "cgroup.events")} did not report 'frozen {(frozen ? 1 : 0)}' within {FreezeTimeout.TotalSeconds:0.###} s",
                    Path.Combine(CgroupDirectory, "cgroup.events"), null, Errno.ETIMEDOUT);
            }
            Thread.Sleep(PollInterval);
        }
    }

    private ulong EventsValue(string key)
    {
        var events = CgroupFile.ParseFlatKeyed(CgroupFile.Read(CgroupDirectory, "cgroup.events"));
        return events.TryGetValue(key, out ulong value) ? value : 0;
    }

    /// <summary>Processes anywhere in the subtree: cgroup.events "populated", or cgroup.procs when there is no cgroup.events.</summary>
    private bool Populated()
    {
        if (!Directory.Exists(CgroupDirectory))
        {
            return false;
        }
        var events = CgroupFile.TryReadFlatKeyed(CgroupDirectory, "cgroup.events");
        if (events is not null)
        {
            return events.TryGetValue("populated", out ulong populated) && populated != 0;
        }
        return SafePids().Count > 0;
    }

    private List<int> SafePids() =>
        CgroupFile.TryRead(CgroupDirectory, "cgroup.procs") is { } text ? CgroupFile.ParsePids(text) : [];

    private static void KillEach(string directory)
    {
        // Freezing first stops the processes from forking new ones between our reads and kills;
        // a fatal signal still kills a frozen process in cgroup v2.
        bool froze = false;
        if (CgroupFile.Exists(directory, "cgroup.freeze"))
        {
            try
            {
                CgroupFile.Write(directory, "cgroup.freeze", "1");
                froze = true;
            }
            catch (CgroupException)
            {
            }
        }
        try
        {
            SignalTree(directory);
        }
        finally
        {
            if (froze)
            {
                try
                {
                    CgroupFile.Write(directory, "cgroup.freeze", "0");
                }
                catch (CgroupException)
                {
                }
            }
        }
    }

    private static void SignalTree(string directory)
    {
        if (CgroupFile.TryRead(directory, "cgroup.procs") is { } text)
        {
            foreach (int pid in CgroupFile.ParsePids(text))
            {
                if (pid > 0 && Libc.Kill(pid, SIGKILL) != 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno != Errno.ESRCH)
                    {
                        throw new CgroupException($"kill({pid}, SIGKILL) for {directory} failed: {new LinuxException("kill", errno).Message}", Path.Combine(directory, "cgroup.procs"), null, errno);
                    }
                }
            }
        }
        foreach (string child in SafeSubdirectories(directory))
        {
            SignalTree(child);
        }
    }

    private void RemoveTree(string directory, Stopwatch deadline)
    {
        foreach (string child in SafeSubdirectories(directory))
        {
            RemoveTree(child, deadline);
        }
        while (true)
        {
            int errno = CgroupFile.RemoveDirectory(directory);
            if (errno == 0 || errno == Errno.ENOENT)
            {
                return;
            }
            // EBUSY while exiting processes finish leaving the cgroup.
            if (errno != Errno.EBUSY || deadline.Elapsed >= DestroyTimeout)
            {
                var cause = new LinuxException($"rmdir {directory}", errno);
                throw new CgroupException($"removing cgroup {directory} failed: {cause.Message}", directory, null, errno, cause);
            }
            Thread.Sleep(PollInterval);
        }
    }

    private static IEnumerable<string> SafeSubdirectories(string directory)
    {
        try
        {
            return Directory.GetDirectories(directory);
        }
        catch (DirectoryNotFoundException)
        {
            return [];
        }
    }

    private void Write(string fileName, string value) => CgroupFile.Write(CgroupDirectory, fileName, value);

    private void WriteEach(string fileName, IReadOnlyList<string> values) => CgroupFile.WriteEach(CgroupDirectory, fileName, values);

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Text(ulong value) => value.ToString(CultureInfo.InvariantCulture);
}
