using System.Diagnostics;
using System.Text;
using CliWrap;
using FluentAssertions;
using KataAgent.Rootfs.Image;
using KataAgent.Rootfs.Tests.Infrastructure;
using KataAgent.Testing.Kernel;
using Xunit;
using Xunit.Abstractions;

namespace KataAgent.Rootfs.Tests.Boot;

/// <summary>
/// Boots Debian's cloud kernel under qemu (TCG) with an initrd from <see cref="InitrdBuilder"/> whose <c>/init</c> is a
/// busybox script: it loads every module of <c>kataagent.modules</c> with insmod in the listed order (insmod, unlike
/// modprobe, fails if a dependency is not loaded yet), checks that the agent's libraries resolve inside the guest,
/// prints a marker line and powers off. Proves the kernel, the module closure and order, the cpio and the libraries.
/// </summary>
[Collection(DebianKernelCollection.Name)]
public sealed class QemuBootTests(DebianKernelFixture kernel, ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan BootTimeout = TimeSpan.FromSeconds(120);

    private const string InitScript = """
        #!/bin/sh
        /bin/busybox mount -t proc proc /proc
        /bin/busybox --install -s /bin
        mount -t sysfs sysfs /sys
        KVER=$(uname -r)
        n=0
        for m in $(cat /lib/modules/$KVER/kataagent.modules); do
          if insmod "$m"; then n=$((n+1)); else echo "KATAAGENT-BOOT-FAILED $m"; fi
        done
        if /lib64/ld-linux-x86-64.so.2 --list /usr/bin/kata-agent; then echo KATAAGENT-LIBS-OK; fi
        for i in 1 2 3 4 5; do
          [ -e /sys/class/virtio-ports/vport0p1/name ] && break
          sleep 1
        done
        for f in /sys/class/virtio-ports/*/name; do echo "KATAAGENT-VPORT $(cat $f)"; done
        echo "KATAAGENT-BOOT-OK $KVER $n"
        poweroff -f

        """;

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task The_cloud_kernel_boots_the_initrd_and_loads_every_module_in_order()
    {
        string qemu = HostTools.Require("qemu-system-x86_64", "qemu-system-x86");
        string image = _temp.File("initrd.img");
        var built = Stopwatch.StartNew();
        var result = await new InitrdBuilder(new InitrdOptions
        {
            AgentPath = RepoPaths.AgentBinary,
            AgentImagePath = "/usr/bin/kata-agent",
            Kernel = kernel.Modules,
            BusyboxPath = RepoPaths.Busybox,
            Customize = tree => tree.AddTextFile("/init", InitScript, 0x1ED),
        }).BuildAsync(image);
        output.WriteLine($"initrd built in {built.Elapsed.TotalSeconds:0.0} s");
        output.WriteLine(result.Describe());

        var console = new StringBuilder();
        string accel = File.Exists("/dev/kvm") ? "kvm:tcg" : "tcg";
        var command = Cli.Wrap(qemu)
            .WithArguments([
                "-machine", $"q35,accel={accel}", "-cpu", "max", "-m", "256", "-smp", "1",
                "-nodefaults", "-nographic", "-no-reboot",
                "-kernel", kernel.Package.VmlinuzPath, "-initrd", image,
                "-append", "console=ttyS0 panic=-1",
                "-serial", "stdio",
                "-device", "virtio-serial-pci,id=vser0",
                "-device", "virtserialport,bus=vser0.0,name=agent.channel.0",
            ])
            .WithStandardOutputPipe(PipeTarget.ToStringBuilder(console))
            .WithStandardErrorPipe(PipeTarget.ToStringBuilder(console))
            .WithValidation(CommandResultValidation.None);

        var booted = Stopwatch.StartNew();
        using var timeout = new CancellationTokenSource(BootTimeout);
        CommandResult? exited = null;
        try
        {
            // On timeout CliWrap kills qemu: no VM outlives the test.
            exited = await command.ExecuteAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
        }
        string log = console.ToString();
        output.WriteLine($"qemu ({accel}) ran {booted.Elapsed.TotalSeconds:0.0} s, exit {exited?.ExitCode.ToString() ?? "killed on timeout"}");
        output.WriteLine(log);

        exited.Should().NotBeNull($"qemu must power off within {BootTimeout.TotalSeconds} s");
        log.Should().Contain($"KATAAGENT-BOOT-OK {kernel.Package.KernelVersion} {result.Modules.Count}");
        log.Should().NotContain("KATAAGENT-BOOT-FAILED");
        log.Should().Contain("KATAAGENT-LIBS-OK", "the agent's interpreter and libraries must resolve inside the guest");
        log.Should().Contain("KATAAGENT-VPORT agent.channel.0", "virtio_pci and virtio_console must drive qemu's virtio-serial port");
        log.Should().NotContain("Kernel panic");
    }
}
