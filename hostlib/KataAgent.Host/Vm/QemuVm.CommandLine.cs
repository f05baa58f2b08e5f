using System.Globalization;
using System.Text.Json.Nodes;
using KataAgent.Linux.Addressing;
using KataAgent.Protocols.Guest;

namespace KataAgent.Host.Vm;

public sealed partial class QemuVm
{
    /// <summary>The first pcie-root-port's slot on the root bus; the ports take consecutive slots from here.</summary>
    internal const int FirstRootPortSlot = 0x10;

    /// <summary>Slots 0x10..0x1e; 0x1f is q35's LPC/SATA/SMBus function group.</summary>
    internal const int MaxRootPorts = 15;

    /// <summary>qemu's command line (without the program). Cold disk i sits on root port rp{i}; hot-plug ports follow.</summary>
    internal string[] BuildArguments()
    {
        string[] append =
        [
            "console=ttyS0", "panic=-1", "quiet",
            // The kernel's early check that the timer IRQ reaches the IO-APIC times out when a loaded host runs the
            // guest slowly (TCG), and the guest panics "IO-APIC + timer doesn't work!". qemu's timer is known good;
            // Kata passes the same flag.
            "no_timer_check",
            .. AgentChannelKernelArguments(),
            $"agent.hotplug_timeout={Math.Max(1, (int)Math.Ceiling(_options.HotplugTimeout.TotalSeconds)).ToString(CultureInfo.InvariantCulture)}",
            .. _options.KernelArguments,
        ];
        var arguments = new List<string>
        {
            "-machine", $"q35,accel={(UsesKvm ? "kvm" : "tcg")},memory-backend={GuestRamId}",
            "-cpu", UsesKvm ? "host" : "max",
            "-smp", SmpArgument(),
            "-m", MemoryArgument(),
            // Guest RAM in a shared memfd: every vhost-user backend (virtiofsd, the vhost-user-vsock device) maps it
            // through the fd qemu passes, which only a shared, fd-backed RAM block has. The default for every VM, so
            // devices can be hot-plugged into any of them; its size must equal -m's.
            "-object", string.Create(CultureInfo.InvariantCulture, $"memory-backend-memfd,id={GuestRamId},size={_options.MemoryMiB}M,share=on"),
            // -display none rather than -nographic: qemu refuses -nographic together with -daemonize.
            "-nodefaults", "-display", "none",
            "-kernel", _options.KernelPath, "-initrd", _options.InitrdPath,
            "-append", string.Join(' ', append),
            "-serial", $"file:{Escape(ConsoleLogPath)}",
            "-qmp", $"unix:{Escape(QmpSocketPath)},server=on,wait=off",
            "-device", "virtio-rng-pci",
            // The log's serial port on either channel: it has every line from boot on, with no process of ours.
            "-device", "virtio-serial-pci,id=vser0",
            "-chardev", $"file,id=agentlog,path={Escape(AgentLogPath)}",
            "-device", $"virtserialport,bus=vser0.0,chardev=agentlog,name={GuestPorts.LogChannelName}",
        };
        switch (VsockDevice)
        {
            case QemuVsockDevice.Kernel:
                arguments.AddRange(["-device", string.Create(CultureInfo.InvariantCulture, $"vhost-vsock-pci,id=vsock0,guest-cid={GuestCid}")]);
                break;
            case QemuVsockDevice.VhostUser:
                // qemu is the client; the CID comes from the backend (GET_CONFIG): the device has no guest-cid.
                arguments.AddRange([
                    "-chardev", $"socket,id=vsock0chr,path={Escape(VhostUserVsockSocketPath)}",
                    "-device", "vhost-user-vsock-pci,id=vsock0,chardev=vsock0chr",
                ]);
                break;
            default:
                arguments.AddRange([
                    "-chardev", $"socket,id=agent,path={Escape(AgentSocketPath)},server=on,wait=off",
                    "-device", $"virtserialport,bus=vser0.0,chardev=agent,name={GuestPorts.AgentChannelName}",
                ]);
                break;
        }
        if (_options.DebugConsole && VsockDevice == QemuVsockDevice.None)
        {
            arguments.AddRange([
                "-chardev", $"socket,id=debugconsole,path={Escape(DebugConsoleSocketPath)},server=on,wait=off",
                "-device", $"virtserialport,bus=vser0.0,chardev=debugconsole,name={GuestPorts.DebugConsoleChannelName}",
            ]);
        }
        for (int port = 0; port < _options.Disks.Count + _options.HotplugSlots; port++)
        {
            arguments.AddRange(["-device", $"pcie-root-port,id={RootPortId(port)},bus=pcie.0,chassis={port + 1},addr=0x{FirstRootPortSlot + port:x}"]);
        }
        for (int i = 0; i < _options.Disks.Count; i++)
        {
            // JSON syntax: image paths go through unescaped, whatever characters they hold.
            arguments.AddRange(["-blockdev", BlockdevArguments(_options.Disks[i], DiskId(i)).ToJsonString()]);
            arguments.AddRange(["-device", $"virtio-blk-pci,drive={DiskId(i)},id={DiskId(i)},bus={RootPortId(i)}"]);
        }
        int firstNicPort = _options.Disks.Count + _options.HotplugSlots;
        for (int i = 0; i < _options.NetworkDevices.Count; i++)
        {
            int port = firstNicPort + i;
            arguments.AddRange(["-device", $"pcie-root-port,id={RootPortId(port)},bus=pcie.0,chassis={port + 1},addr=0x{FirstRootPortSlot + port:x}"]);
            var nic = _options.NetworkDevices[i];
            string netdev = nic.OpenFile is null ? nic.Netdev : $"{nic.Netdev},fd={FirstInheritedFd + OpenFiles().IndexOf(nic.OpenFile)}";
            // Several queues: the tap opened that many times (IFF_MULTI_QUEUE), and the device's MSI-X vectors one per
            // rx and tx queue plus config and control (2N+2), as qemu's docs give it.
            string queues = nic.Queues > 1 ? string.Create(CultureInfo.InvariantCulture, $",queues={nic.Queues}") : "";
            string multiqueue = nic.Queues > 1 ? string.Create(CultureInfo.InvariantCulture, $",mq=on,vectors={2 * nic.Queues + 2}") : "";
            arguments.AddRange(["-netdev", $"{netdev}{queues},id={NicId(i)}"]);
            // romfile= empty: no iPXE option ROM, which only costs boot time.
            arguments.AddRange(["-device", $"virtio-net-pci,netdev={NicId(i)},id=nic{i},mac={nic.Mac},bus={RootPortId(port)},romfile={multiqueue}"]);
        }
        int firstSharePort = firstNicPort + _options.NetworkDevices.Count;
        for (int i = 0; i < _options.SharedDirectories.Count; i++)
        {
            int port = firstSharePort + i;
            string tag = _options.SharedDirectories[i].Tag;
            string requestQueues = _options.SharedDirectories[i].RequestQueues > 1
                ? string.Create(CultureInfo.InvariantCulture, $",num-request-queues={_options.SharedDirectories[i].RequestQueues}")
                : "";
            arguments.AddRange(["-device", $"pcie-root-port,id={RootPortId(port)},bus=pcie.0,chassis={port + 1},addr=0x{FirstRootPortSlot + port:x}"]);
            arguments.AddRange(["-chardev", $"socket,id={ShareChardevId(tag)},path={Escape(Virtiofsd.SocketPathFor(_options.StateDirectory, tag))}"]);
            arguments.AddRange(["-device", $"vhost-user-fs-pci,chardev={ShareChardevId(tag)},tag={tag},id={ShareDeviceId(tag)},queue-size={VirtioFsQueueSize}{requestQueues},bus={RootPortId(port)}"]);
        }
        if (!_options.AllowReboot)
        {
            arguments.Add("-no-reboot");
        }
        arguments.AddRange(IncomingArguments());
        arguments.AddRange(["-pidfile", PidFilePath]);
        if (_options.Detached)
        {
            arguments.Add("-daemonize");
        }
        return [.. arguments];
    }

    /// <summary>
    /// Where the agent serves its API, log readers and debug console: Kata's vsock ports (agent 1024, log 1025,
    /// debug console 1026) on any CID, or the serial ports.
    /// </summary>
    internal string[] AgentChannelKernelArguments() => VsockDevice == QemuVsockDevice.None
        ?
        [
            $"agent.server_addr=serial://{GuestPorts.AgentChannelName}",
            .. (_options.DebugConsole ? new[] { "agent.debug_console" } : []),
        ]
        :
        [
            string.Create(CultureInfo.InvariantCulture, $"agent.server_addr=vsock://-1:{AgentAddress.DefaultAgentPort}"),
            string.Create(CultureInfo.InvariantCulture, $"agent.log_vport={AgentAddress.DefaultLogPort}"),
            .. (_options.DebugConsole
                ? new[] { "agent.debug_console", string.Create(CultureInfo.InvariantCulture, $"agent.debug_console_vport={AgentAddress.DefaultDebugConsolePort}") }
                : []),
        ];

    /// <summary>vCPUs, and room to hot-plug up to <see cref="QemuOptions.MaxCpus"/> (one socket each, so every added CPU is a socket of its own).</summary>
    internal string SmpArgument() => _options.MaxCpus > _options.Cpus
        ? string.Create(CultureInfo.InvariantCulture, $"cpus={_options.Cpus},maxcpus={_options.MaxCpus},sockets={_options.MaxCpus},cores=1,threads=1")
        : _options.Cpus.ToString(CultureInfo.InvariantCulture);

    /// <summary>Memory, and DIMM slots up to <see cref="QemuOptions.MaxMemoryMiB"/> for hot-plug.</summary>
    internal string MemoryArgument() => _options.MaxMemoryMiB > _options.MemoryMiB
        ? string.Create(CultureInfo.InvariantCulture, $"size={_options.MemoryMiB}M,slots={Math.Max(1, _options.MemorySlots)},maxmem={_options.MaxMemoryMiB}M")
        : _options.MemoryMiB.ToString(CultureInfo.InvariantCulture);

    /// <summary>The first descriptor number the files of <see cref="QemuNetworkDevice.OpenFile"/> get.</summary>
    internal const int FirstInheritedFd = 3;

    /// <summary>
    /// The words put before qemu: <c>nsenter --net=PATH</c> to run it in the pod's network namespace, and a
    /// shell that opens the devices qemu takes as descriptors (fd 3, 4, …) and then execs it. Both exec, so
    /// qemu keeps the pid the launcher saw and the parent-death signal setpriv armed.
    /// </summary>
    internal string[] LaunchPrefix()
    {
        var prefix = new List<string>();
        if (_options.NetworkNamespacePath is { } netns)
        {
            prefix.AddRange(["nsenter", $"--net={netns}", "--"]);
        }
        var files = OpenFiles();
        if (files.Count > 0)
        {
            string redirects = string.Join(' ', files.Select((file, i) => $"{FirstInheritedFd + i}<>'{file.Replace("'", "'\\''", StringComparison.Ordinal)}'"));
            prefix.AddRange(["sh", "-c", $"exec \"$@\" {redirects}", "qemu"]);
        }
        return [.. prefix];
    }

    private List<string> OpenFiles() => [.. _options.NetworkDevices.Select(d => d.OpenFile).OfType<string>()];

    /// <summary>The blockdev for a disk: the format driver over a file node, read-only at both levels when asked.</summary>
    internal static JsonObject BlockdevArguments(QemuDisk disk, string nodeName) => new()
    {
        ["driver"] = disk.Format,
        ["node-name"] = nodeName,
        ["read-only"] = disk.ReadOnly,
        ["file"] = new JsonObject
        {
            // A host block device (a raw volume) needs qemu's host_device driver: "file" refuses one.
            ["driver"] = IsBlockDevice(disk.ImagePath) ? "host_device" : "file",
            ["filename"] = disk.ImagePath,
            ["read-only"] = disk.ReadOnly,
        },
    };

    private static unsafe bool IsBlockDevice(string path)
    {
        KataAgent.Linux.Interop.Libc.Statx stat;
        return KataAgent.Linux.Interop.Libc.StatX(KataAgent.Linux.Interop.Libc.AT_FDCWD, path, 0, KataAgent.Linux.Interop.Libc.STATX_TYPE, &stat) == 0
            && (stat.Mode & KataAgent.Linux.Interop.Libc.S_IFMT) == KataAgent.Linux.Interop.Libc.S_IFBLK;
    }

    /// <summary>Kata's PCI path of the device in slot 0 behind the root port at <paramref name="port"/>: root-bus slot, then device slot.</summary>
    internal static string PciPath(int port) => $"{FirstRootPortSlot + port:x2}/00";

    internal static string RootPortId(int port) => $"rp{port}";

    internal static string DiskId(int port) => $"disk{port}";

    internal static string NicId(int index) => $"net{index}";

    /// <summary>The memory backend of the guest's boot RAM (hot-plugged DIMMs have their own).</summary>
    internal const string GuestRamId = "guest-ram";

    /// <summary>Kata's queue size for virtio-fs (qemu's default is 128): more requests in flight per round trip.</summary>
    internal const int VirtioFsQueueSize = 1024;

    /// <summary>The vhost-user-fs-pci device of a share, named by its tag so that it is found again in an attached VM.</summary>
    internal static string ShareDeviceId(string tag) => $"fs-{tag}";

    /// <summary>The socket chardev that connects qemu to a share's virtiofsd.</summary>
    internal static string ShareChardevId(string tag) => $"vfs-{tag}";

    /// <summary>qemu's option syntax ends a value at a comma; a doubled comma is a literal one.</summary>
    private static string Escape(string value) => value.Replace(",", ",,", StringComparison.Ordinal);
}
