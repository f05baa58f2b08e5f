using System.Diagnostics;
using System.Text;
using CliWrap;
using FluentAssertions;
using KataAgent.Host;
using KataAgent.Protocols.Agent;
using KataAgent.Rootfs.Image;
using KataAgent.Rootfs.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace KataAgent.Rootfs.Tests.Boot;

/// <summary>
/// The real thing: the published agent as /init of the image, booted under qemu (TCG), serving
/// the agent API on a virtio-serial port; the host library connects through qemu's chardev
/// socket. The agent mounts the guest's filesystems, loads the image's modules, reads its
/// configuration from the kernel command line, spawns its helpers (the reaper must see their
/// exits as PID 1, where .NET would otherwise reap them itself) and powers the VM off after
/// DestroySandbox.
/// </summary>
[Collection(DebianKernelCollection.Name)]
public sealed class AgentPid1BootTests(DebianKernelFixture kernel, ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan BootTimeout = TimeSpan.FromSeconds(180);
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Agent_boots_as_pid_1_answers_over_virtio_serial_and_powers_off_after_DestroySandbox()
    {
        string qemu = HostTools.Require("qemu-system-x86_64", "qemu-system-x86");
        string image = _temp.File("initrd.img");
        string socket = _temp.File("agent.sock");
        await new InitrdBuilder(new InitrdOptions { AgentPath = RepoPaths.AgentBinary, Kernel = kernel.Modules }).BuildAsync(image);

        var console = new StringBuilder();
        string accel = File.Exists("/dev/kvm") ? "kvm:tcg" : "tcg";
        var command = Cli.Wrap(qemu)
            .WithArguments([
                "-machine", $"q35,accel={accel}", "-cpu", "max", "-m", "512", "-smp", "1",
                "-nodefaults", "-nographic", "-no-reboot",
                "-kernel", kernel.Package.VmlinuzPath, "-initrd", image,
                "-append", "console=ttyS0 panic=-1 quiet agent.server_addr=serial://agent.channel.0 agent.log=debug agent.frobnicate",
                "-serial", "stdio",
                "-device", "virtio-rng-pci",
                "-device", "virtio-serial-pci,id=vser0",
                "-chardev", $"socket,id=agent,path={socket},server=on,wait=off",
                "-device", "virtserialport,bus=vser0.0,chardev=agent,name=agent.channel.0",
            ])
            .WithStandardOutputPipe(PipeTarget.ToStringBuilder(console))
            .WithStandardErrorPipe(PipeTarget.ToStringBuilder(console))
            .WithValidation(CommandResultValidation.None);

        using var kill = new CancellationTokenSource(BootTimeout);
        var clock = Stopwatch.StartNew();
        var vm = command.ExecuteAsync(kill.Token);
        try
        {
            await using (var client = await AgentClient.ConnectAsync($"serial://{socket}", new AgentClientOptions { ConnectTimeout = TimeSpan.FromSeconds(150), RetryInterval = TimeSpan.FromMilliseconds(200) }))
            {
                output.WriteLine($"agent answered Check {clock.Elapsed.TotalSeconds:0.0} s after qemu started");
                var details = await client.GetGuestDetailsAsync(new GuestDetailsRequest { MemBlockSize = true });
                details.AgentDetails.InitDaemon.Should().BeTrue("the agent is PID 1 of the guest");
                string metrics = (await client.GetMetricsAsync(new GetMetricsRequest())).Metrics_;
                metrics.Should().Contain("kata_guest_meminfo{item=\"mem_total\"}");
                (await client.VersionAsync()).AgentVersion.Should().Be(details.AgentDetails.Version);
                await client.CreateSandboxAsync(new CreateSandboxRequest { Hostname = "vm-pod", SandboxId = "vm", SandboxPidns = true });
                await client.DestroySandboxAsync(new DestroySandboxRequest());
            }
            var exited = await vm.Task.WaitAsync(TimeSpan.FromSeconds(60));
            output.WriteLine(console.ToString());
            exited.ExitCode.Should().Be(0, "the agent powers the VM off after DestroySandbox");
            string log = console.ToString();
            log.Should().Contain("sandbox vm created").And.Contain("powering off");
            log.Should().Contain("ignoring unknown kernel command-line option agent.frobnicate");
            log.Should().Contain("serving the Kata agent API on serial://agent.channel.0 (pid 1)");
            log.Should().NotContain("Kernel panic");
            log.Should().NotContain("guest init:", "every mount and module of the image must succeed");
        }
        catch
        {
            output.WriteLine(console.ToString());
            throw;
        }
        finally
        {
            kill.Cancel();
        }
    }
}
