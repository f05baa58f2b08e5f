using System.Globalization;
using CliWrap;
using CliWrap.Buffered;
using KataAgent.Host.Network.Teardown;
using KataAgent.Host.Vm;
using KataAgent.Linux.Interop;
using KataAgent.Linux.Namespaces;
using KataAgent.Linux.Netlink.Route;
using KataAgent.Protocols.Types;

namespace KataAgent.Host.Network.Endpoints;

/// <summary>
/// User-mode networking with passt (passt's contrib/kata-containers, on stock qemu ≥ 7.2): passt runs
/// inside the pod netns and turns the guest's frames into the pod's own L4 sockets; qemu connects to
/// its unix socket with <c>-netdev stream</c>. The guest is configured statically with the pod
/// interface's addresses and routes (as Kata's patch does; passt answers ARP for the gateway).
/// Nothing in the netns changes except, for ICMP echo, <c>net.ipv4.ping_group_range</c> (restored
/// afterwards). Debian bookworm's passt (2023-03-09) needs:
/// <list type="bullet">
/// <item>the template interface given (<c>-i</c>): without it, it refuses a netns with no default route;</item>
/// <item>a directory the user it drops to owns: started as root it becomes nobody (65534) before it
/// writes its pid file, so the pid file and socket live in a directory owned by nobody:root, 0770
/// (the log file and socket are made earlier, as uid 0 without CAP_DAC_OVERRIDE), under
/// /run/kataagent-passt/ (every ancestor searchable; a state directory under a 0700 temp directory
/// would not be, and the socket path stays far below the 108 bytes of sun_path);</item>
/// <item>ping sockets allowed for that group in the pod netns (a fresh netns allows none);</item>
/// <item>inbound ports asked for (<c>-t</c>/<c>-u</c>): it forwards nothing by default;</item>
/// <item><c>--no-map-gw</c>: by default it sends the guest's traffic for the gateway address to the pod
/// netns's own loopback, but in a pod the gateway is the CNI bridge, which the guest must reach.</item>
/// </list>
/// passt is started first and waited for (its pid file appears once it listens), because qemu 7.2's
/// stream netdev does not fail on a missing socket: the NIC just never gets a link.
/// </summary>
public sealed class PasstEndpoint : NetworkEndpoint
{
    /// <summary>passt's unprivileged user and group when started as root (bookworm: nobody/nogroup).</summary>
    public const uint PasstId = 65534;

    /// <summary>Where passt's files go when we are root (see the class remarks).</summary>
    public const string RootRuntimeDirectory = "/run/kataagent-passt";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(10);

    private readonly string _directory;
    private readonly UndoStack _undo;

    private PasstEndpoint(PodNetwork network, EndpointNic nic, string directory, int processId, UndoStack undo, IReadOnlyList<PortForward> portForwards)
        : base(network, [nic])
    {
        _directory = directory;
        ProcessId = processId;
        _undo = undo;
        PortForwards = portForwards;
    }

    /// <summary>The inbound ports passt forwards.</summary>
    public IReadOnlyList<PortForward> PortForwards { get; }

    private protected override UndoStack Journal => _undo;

    /// <inheritdoc/>
    public override NetworkModel Model => NetworkModel.Passt;

    /// <summary>passt's pid (it daemonizes: not our child).</summary>
    public int ProcessId { get; }

    /// <summary>passt's unix socket, which qemu connects to.</summary>
    public string SocketPath => Path.Combine(_directory, "passt.sock");

    /// <summary>passt answers ARP itself; the pod's static neighbours name MACs the guest cannot reach.</summary>
    public override IReadOnlyList<ARPNeighbor> AgentNeighbours => [];

    /// <summary>
    /// Starts passt for <paramref name="network"/>. A restore names the <paramref name="template"/> interface (the one the
    /// checkpointed NIC stood in for) and the guest NIC's <paramref name="guestMac"/>; a new endpoint picks the
    /// interface with the default route and a random MAC.
    /// </summary>
    internal static async Task<PasstEndpoint> SetUpAsync(PodNetwork network, string stateDirectory, IReadOnlyList<PortForward> portForwards, string? journalPath,
        CancellationToken cancellationToken, PodInterface? template = null, string? guestMac = null)
    {
        template ??= Template(network);
        bool root = Libc.GetEuid() == 0;
        string directory = root
            ? Path.Combine(RootRuntimeDirectory, Guid.NewGuid().ToString("N")[..12])
            : Path.GetFullPath(Path.Combine(stateDirectory, "passt"));
        string socket = Path.Combine(directory, "passt.sock");
        string pidFile = Path.Combine(directory, "passt.pid");
        string log = Path.Combine(directory, "passt.log");
        var undo = new UndoStack(network.NamespacePath, NetworkModel.Passt, journalPath);
        using var context = new UndoContext(network.NamespacePath);
        try
        {
            if (root)
            {
                Directory.CreateDirectory(RootRuntimeDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
            }
            undo.Push(new DeleteDirectoryStep(directory));
            Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            if (root)
            {
                // Owner nobody for the pid file (written after the switch); group root with write access for
                // the log and socket, which passt opens while still uid 0 but already without CAP_DAC_OVERRIDE.
                Libc.Check(Libc.Chown(directory, PasstId, 0), $"chown {directory}");
                File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                    | UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute);
                if (AllowPing(network.NamespacePath) is { } originalRange)
                {
                    undo.Push(new RestorePingGroupRangeStep(originalRange));
                }
            }
            var arguments = new List<string> { "--net=" + network.NamespacePath, "--", "passt", "-P", pidFile, "-s", socket, "-l", log, "-i", template.Name, "--no-map-gw" };
            if (root)
            {
                arguments.AddRange(["--runas", $"{PasstId}:{PasstId}"]);
            }
            foreach (var (protocol, option) in new[] { ("tcp", "-t"), ("udp", "-u") })
            {
                var ports = portForwards.Where(p => p.Protocol == protocol).Select(p => $"{p.HostPort}:{p.GuestPort}").ToList();
                if (ports.Count > 0)
                {
                    arguments.AddRange([option, string.Join(',', ports)]);
                }
            }
            // Journaled before the start: a passt that started but was never waited for must still be stopped.
            undo.Push(new StopPasstStep(pidFile, socket));
            // passt forks into the background at once; its pid file says when it listens.
            var result = await Cli.Wrap("nsenter").WithArguments(arguments).WithValidation(CommandResultValidation.None)
                .ExecuteBufferedAsync(cancellationToken).ConfigureAwait(false);
            if (result.ExitCode != 0)
            {
                throw new PodNetworkException($"passt failed to start (exit {result.ExitCode}): {(result.StandardError + result.StandardOutput).Trim()}");
            }
            int pid = await WaitForPidFileAsync(pidFile, log, cancellationToken).ConfigureAwait(false);
            var nic = new EndpointNic(template, new QemuNetworkDevice
            {
                Mac = guestMac ?? MacAddress.Format(MacvtapEndpoint.RandomLocalMac()),
                Netdev = $"stream,server=off,addr.type=unix,addr.path={socket.Replace(",", ",,", StringComparison.Ordinal)}",
            }, "passt");
            return new PasstEndpoint(network, nic, directory, pid, undo, portForwards);
        }
        catch (Exception e)
        {
            undo.UndoAfter(e, context);
            throw;
        }
    }

    /// <summary>The interface passt serves: the one with the default route (passt's own choice), else the first.</summary>
    private static PodInterface Template(PodNetwork network)
    {
        if (network.Interfaces.Count == 0)
        {
            throw new PodNetworkException($"the network namespace {network.NamespacePath} has no interface with an address for passt to serve");
        }
        string? defaultDevice = network.Routes.FirstOrDefault(r => r.Dest.Length == 0 && r.Family == IPFamily.V4)?.Device
            ?? network.Routes.FirstOrDefault(r => r.Dest.Length == 0)?.Device;
        return network.Interfaces.FirstOrDefault(i => i.Name == defaultDevice) ?? network.Interfaces[0];
    }

    /// <summary>Lets passt's group open ping sockets in the pod netns; returns the old range, or null when it already could.</summary>
    private static string? AllowPing(string namespacePath) => NetworkNamespace.Run(namespacePath, () =>
    {
        string original = File.ReadAllText(RestorePingGroupRangeStep.SysctlPath).Trim();
        string[] parts = original.Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries);
        uint low = uint.Parse(parts[0], CultureInfo.InvariantCulture);
        uint high = uint.Parse(parts[1], CultureInfo.InvariantCulture);
        if (low <= PasstId && PasstId <= high)
        {
            return null;
        }
        // The smallest change: widen an enabled range to take 65534 in, or allow just 65534.
        (low, high) = low > high ? (PasstId, PasstId) : (Math.Min(low, PasstId), Math.Max(high, PasstId));
        File.WriteAllText(RestorePingGroupRangeStep.SysctlPath, $"{low} {high}");
        return original;
    });

    private static async Task<int> WaitForPidFileAsync(string pidFile, string log, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + StartTimeout;
        while (true)
        {
            if (File.Exists(pidFile) && int.TryParse(File.ReadAllText(pidFile).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int pid) && pid > 0)
            {
                return pid;
            }
            if (DateTime.UtcNow > deadline)
            {
                string said = File.Exists(log) ? File.ReadAllText(log).Trim() : "";
                throw new PodNetworkException($"passt did not write its pid file {pidFile} within {StartTimeout.TotalSeconds:0} s (it writes it once it listens); its log: {said}");
            }
            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    protected override async Task TearDownCoreAsync(CancellationToken cancellationToken)
    {
        // Stopping passt waits for it to exit: off the caller's thread.
        await Task.Run(() =>
        {
            using var context = new UndoContext(Network.NamespacePath);
            _undo.UndoAll(context);
        }, cancellationToken).ConfigureAwait(false);
    }
}
