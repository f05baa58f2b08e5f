using CliWrap;
using CliWrap.Buffered;
using FluentAssertions;
using KataAgent.Rootfs.Tests.Infrastructure;
using KataAgent.Testing.Kernel;
using Xunit;
using Xunit.Abstractions;

namespace KataAgent.Rootfs.Tests.CommandLine;

/// <summary>kata-rootfs run as a process, the way build.sh and a person run it.</summary>
[Collection(DebianKernelCollection.Name)]
public sealed class KataRootfsCliTests(DebianKernelFixture kernel, ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Build_writes_the_initrd_and_the_kernel_and_prints_their_sizes()
    {
        string initrd = _temp.File("out/initrd.img");
        string vmlinuz = _temp.File("out/vmlinuz");

        var result = await Run("build", "--agent", RepoPaths.AgentBinary, "--out", initrd, "--kernel-out", vmlinuz, "--busybox", RepoPaths.Busybox);

        output.WriteLine(result.StandardOutput + result.StandardError);
        result.ExitCode.Should().Be(0);
        File.Exists(initrd).Should().BeTrue();
        (await File.ReadAllBytesAsync(vmlinuz)).Should().Equal(await File.ReadAllBytesAsync(kernel.Package.VmlinuzPath));
        result.StandardOutput.Should().Contain($"vmlinuz {vmlinuz}: ").And.Contain($"kernel {kernel.Package.KernelVersion}, {kernel.Package.PackageName}, cached")
            .And.Contain($"initrd  {initrd}: ").And.Contain("(none)").And.Contain("18 for").And.Contain("busybox");
    }

    [Fact]
    public async Task A_user_given_kernel_and_a_module_list_are_used()
    {
        string initrd = _temp.File("initrd.img");

        var result = await Run("build", "--agent", RepoPaths.AgentBinary, "--out", initrd,
            "--kernel", kernel.Package.VmlinuzPath, "--kernel-modules", kernel.Package.ModulesDirectory, "--modules", "virtio_console,overlay");

        output.WriteLine(result.StandardOutput + result.StandardError);
        result.ExitCode.Should().Be(0);
        result.StandardOutput.Should().Contain($"kernel {kernel.Package.KernelVersion}, given").And.Contain("(4 for"); // virtio_ring, virtio, virtio_console, overlay
    }

    [Fact]
    public async Task A_missing_module_fails_with_its_name_and_the_kernel_version()
    {
        var result = await Run("build", "--agent", RepoPaths.AgentBinary, "--out", _temp.File("x.img"), "--modules", "virtio_pci,9pnet_virtio");

        result.ExitCode.Should().Be(1);
        result.StandardError.Should().Contain("kata-rootfs: kernel module '9pnet_virtio'").And.Contain(kernel.Package.KernelVersion);
    }

    [Fact]
    public async Task Bad_usage_exits_2_and_half_a_kernel_exits_1()
    {
        (await Run("build", "--out", _temp.File("x.img"))).ExitCode.Should().Be(2);

        var half = await Run("build", "--agent", RepoPaths.AgentBinary, "--out", _temp.File("x.img"), "--kernel", kernel.Package.VmlinuzPath);
        half.ExitCode.Should().Be(1);
        half.StandardError.Should().Contain("--kernel and --kernel-modules go together");
    }

    private static string DotnetHost =>
        Path.GetFileName(Environment.ProcessPath) == "dotnet" ? Environment.ProcessPath! : "dotnet";

    private static Task<BufferedCommandResult> Run(params string[] arguments) =>
        Cli.Wrap(DotnetHost).WithArguments([RepoPaths.CliAssembly, .. arguments]).WithValidation(CommandResultValidation.None).ExecuteBufferedAsync();
}
