using System.Text.Json;
using FluentAssertions;
using KataAgent.Host.Vm;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Host;

/// <summary>
/// The agent channel in qemu's command line, the kernel command line and the addresses, for each vsock device
/// (this machine has no /dev/vhost-vsock, so the kernel's path is covered here and not in a VM), and what vm.json
/// keeps of them for kactl and attach.
/// </summary>
public sealed class QemuVmChannelTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private QemuOptions Options(bool debugConsole = true) => new()
    {
        KernelPath = "/k/vmlinuz",
        InitrdPath = "/k/initrd.img",
        StateDirectory = _temp.File("vm"),
        DebugConsole = debugConsole,
    };

    private static string Append(string[] arguments) => arguments[Array.IndexOf(arguments, "-append") + 1];

    [Fact]
    public void Vsock_is_the_default_channel()
    {
        Options().AgentChannel.Should().Be(QemuAgentChannel.Vsock);
    }

    [Fact]
    public void A_guest_reboot_ends_qemu_unless_AllowReboot_is_set()
    {
        QemuVm.Unstarted(Options(), QemuVsockDevice.VhostUser, 3).BuildArguments().Should().Contain("-no-reboot");
        QemuVm.Unstarted(Options() with { AllowReboot = true }, QemuVsockDevice.VhostUser, 3).BuildArguments().Should().NotContain("-no-reboot");
    }

    [Fact]
    public void Our_vhost_user_vsock_device_gets_a_chardev_to_the_backend_socket_and_Katas_vsock_ports()
    {
        var options = Options();
        var vm = QemuVm.Unstarted(options, QemuVsockDevice.VhostUser, 3);

        string[] arguments = vm.BuildArguments();

        string socket = Path.Combine(options.StateDirectory, "vhost-user-vsock.sock");
        arguments.Should().ContainInConsecutiveOrder("-chardev", $"socket,id=vsock0chr,path={socket}", "-device", "vhost-user-vsock-pci,id=vsock0,chardev=vsock0chr");
        Append(arguments).Split(' ').Should().Contain(["agent.server_addr=vsock://-1:1024", "agent.log_vport=1025", "agent.debug_console", "agent.debug_console_vport=1026"]);
        string.Join(' ', arguments).Should().NotContain("agent.channel.0").And.NotContain("console.sock").And.NotContain("guest-cid", "qemu 7.2's vhost-user-vsock-pci takes the CID from the backend (GET_CONFIG)");
        arguments.Should().ContainInConsecutiveOrder("-device", "virtserialport,bus=vser0.0,chardev=agentlog,name=agent.log.0");
        string hybrid = Path.Combine(options.StateDirectory, "vsock.sock");
        vm.AgentAddress.ToString().Should().Be($"hvsock://{hybrid}:1024");
        vm.AgentLogAddress!.ToString().Should().Be($"hvsock://{hybrid}:1025");
        vm.DebugConsoleAddress!.ToString().Should().Be($"hvsock://{hybrid}:1026");
        vm.HybridVsockSocketPath.Should().Be(hybrid);
        vm.GuestCid.Should().Be(3);
    }

    [Fact]
    public void The_kernels_vhost_vsock_gets_the_guest_cid_and_AF_VSOCK_addresses()
    {
        var vm = QemuVm.Unstarted(Options(), QemuVsockDevice.Kernel, 41_234);

        string[] arguments = vm.BuildArguments();

        arguments.Should().ContainInConsecutiveOrder("-device", "vhost-vsock-pci,id=vsock0,guest-cid=41234");
        string.Join(' ', arguments).Should().NotContain("vhost-user").And.NotContain("agent.channel.0");
        Append(arguments).Split(' ').Should().Contain(["agent.server_addr=vsock://-1:1024", "agent.log_vport=1025", "agent.debug_console_vport=1026"]);
        vm.AgentAddress.ToString().Should().Be("vsock://41234:1024");
        vm.AgentLogAddress!.ToString().Should().Be("vsock://41234:1025");
        vm.DebugConsoleAddress!.ToString().Should().Be("vsock://41234:1026");
    }

    [Fact]
    public void Without_the_debug_console_no_console_port_is_named()
    {
        var vm = QemuVm.Unstarted(Options(debugConsole: false), QemuVsockDevice.VhostUser, 3);

        Append(vm.BuildArguments()).Should().NotContain("debug_console");
        vm.DebugConsoleAddress.Should().BeNull();
    }

    [Fact]
    public void The_serial_channel_keeps_the_virtio_serial_ports_and_their_sockets()
    {
        var options = Options() with { AgentChannel = QemuAgentChannel.Serial };
        var vm = QemuVm.Unstarted(options, QemuVsockDevice.None, 0);

        string[] arguments = vm.BuildArguments();

        string agent = Path.Combine(options.StateDirectory, "agent.sock");
        string console = Path.Combine(options.StateDirectory, "console.sock");
        arguments.Should().ContainInConsecutiveOrder("-chardev", $"socket,id=agent,path={agent},server=on,wait=off", "-device", "virtserialport,bus=vser0.0,chardev=agent,name=agent.channel.0");
        arguments.Should().ContainInConsecutiveOrder("-chardev", $"socket,id=debugconsole,path={console},server=on,wait=off");
        Append(arguments).Split(' ').Should().Contain(["agent.server_addr=serial://agent.channel.0", "agent.debug_console"]);
        Append(arguments).Should().NotContain("vport");
        string.Join(' ', arguments).Should().NotContain("vsock");
        vm.AgentAddress.ToString().Should().Be($"serial://{agent}");
        vm.DebugConsoleAddress!.ToString().Should().Be($"serial://{console}");
        vm.AgentLogAddress.Should().BeNull("the serial channel's log is only the file qemu writes");
    }

    [Fact]
    public void A_detached_vsock_VM_without_the_kernels_vhost_vsock_needs_the_backend_command()
    {
        var detached = Options() with { Detached = true };

        var refused = () => QemuVm.Validate(detached, kernelVsock: false);

        refused.Should().Throw<ArgumentException>().Which.Message.Should().Contain("QemuOptions.VsockBackendCommand").And.Contain("AgentChannel = Serial");
        // The kernel and initrd are checked after that; these do not exist, which is the next complaint.
        var withCommand = () => QemuVm.Validate(detached with { VsockBackendCommand = ["/usr/bin/kactl", "vhost-user-vsock"] }, kernelVsock: false);
        withCommand.Should().Throw<FileNotFoundException>();
        var serial = () => QemuVm.Validate(detached with { AgentChannel = QemuAgentChannel.Serial }, kernelVsock: false);
        serial.Should().Throw<FileNotFoundException>("a serial VM needs no backend");
        var kernel = () => QemuVm.Validate(detached, kernelVsock: true);
        kernel.Should().Throw<FileNotFoundException>("the kernel's vhost-vsock needs no backend process");
    }

    [Fact]
    public void The_backend_process_gets_its_sockets_cid_and_qemus_pid_file()
    {
        QemuVsockBackendProcess.Arguments("/s/vhost-user-vsock.sock", "/s/vsock.sock", 3, "/s/qemu.pid").Should().Equal(
            "--socket", "/s/vhost-user-vsock.sock", "--hybrid-socket", "/s/vsock.sock", "--cid", "3", "--qemu-pid-file", "/s/qemu.pid");
    }

    [Fact]
    public void ReadAddresses_follows_the_vsock_device_vm_json_records_and_old_files_read_as_serial()
    {
        string directory = _temp.File("state");
        Directory.CreateDirectory(directory);
        var options = Options() with { StateDirectory = directory };
        QemuVm.ReadAddresses(directory).Should().BeNull("there is no vm.json yet");

        Write(directory, new QemuVmState { Options = options, ProcessId = 1, UsesKvm = false, DiskPciPaths = [], VsockDevice = QemuVsockDevice.VhostUser, GuestCid = 3 });
        var vsock = QemuVm.ReadAddresses(directory)!;
        vsock.Agent.ToString().Should().Be($"hvsock://{directory}/vsock.sock:1024");
        vsock.DebugConsole!.ToString().Should().Be($"hvsock://{directory}/vsock.sock:1026");
        File.ReadAllText(Path.Combine(directory, "vm.json")).Should().Contain("\"vsockDevice\": \"VhostUser\"");

        Write(directory, new QemuVmState { Options = options, ProcessId = 1, UsesKvm = false, DiskPciPaths = [], VsockDevice = QemuVsockDevice.Kernel, GuestCid = 77 });
        QemuVm.ReadAddresses(directory)!.Agent.ToString().Should().Be("vsock://77:1024");

        // A vm.json from before vsock has no vsockDevice: its VM was on the serial channel.
        string old = File.ReadAllText(Path.Combine(directory, "vm.json")).Replace("\"vsockDevice\": \"Kernel\",", "");
        File.WriteAllText(Path.Combine(directory, "vm.json"), old);
        QemuVm.ReadAddresses(directory)!.Agent.ToString().Should().Be($"serial://{directory}/agent.sock");
    }

    private static void Write(string directory, QemuVmState state) =>
        File.WriteAllText(Path.Combine(directory, "vm.json"), JsonSerializer.Serialize(state, QemuVmStateJsonContext.Default.QemuVmState));
}
