using CliWrap;
using CliWrap.Buffered;
using FluentAssertions;
using KataAgent.Helpers.Seccomp;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Seccomp;

/// <summary>The committed syscall tables are exactly what their generator makes from the installed kernel headers.</summary>
public class SyscallTableGeneratorTests
{
    private static readonly string Generator =
        Path.Combine(RepoPaths.Root, "agent", "KataAgent.Helpers", "Seccomp", "generate-syscall-tables.py");

    [Fact]
    public async Task Committed_tables_equal_the_generator_output()
    {
        var result = await Cli.Wrap("python3").WithArguments([Generator, "--check"])
            .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync();
        result.ExitCode.Should().Be(0, "generate-syscall-tables.py --check said: {0}{1}", result.StandardOutput, result.StandardError);
    }

    [Fact]
    public void Calls_of_the_64_bit_abi_only_are_absent_from_x32_and_i386()
    {
        // syscall_64.tbl gives these abi "64" (not x32); syscall_32.tbl leaves 453 unused.
        foreach (var name in new[] { "uretprobe", "uprobe", "map_shadow_stack" })
        {
            SeccompSyscalls.TryGetNumber(SeccompArchitecture.X86_64, name, out _).Should().BeTrue(name);
            SeccompSyscalls.TryGetNumber(SeccompArchitecture.X32, name, out _).Should().BeFalse(name);
        }
        SeccompSyscalls.TryGetNumber(SeccompArchitecture.X86, "map_shadow_stack", out _).Should().BeFalse();
        SeccompSyscalls.TryGetNumber(SeccompArchitecture.Aarch64, "map_shadow_stack", out uint arm64).Should().BeTrue();
        arm64.Should().Be(453);
    }
}
