using System.Runtime.InteropServices;
using FluentAssertions;
using KataAgent.Helpers.Seccomp;
using KataAgent.Linux.Interop;
using Xunit;

namespace KataAgent.Tests.Linux;

/// <summary>
/// The numbers the interop passes to syscall(2) are the same facts as the seccomp compiler's per-architecture
/// tables; the calls we leave to glibc must be exported by it.
/// </summary>
public class SyscallNumbersTests
{
    public static TheoryData<string> Names => [.. SyscallNumbers.Names];

    [Theory]
    [MemberData(nameof(Names))]
    public void X64_number_is_the_x86_64_table_number(string name)
    {
        SeccompSyscalls.TryGetNumber(SeccompArchitecture.X86_64, name, out uint expected).Should().BeTrue();
        SyscallNumbers.For(name, Architecture.X64).Should().Be(expected);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Arm64_number_is_the_aarch64_table_number(string name)
    {
        SeccompSyscalls.TryGetNumber(SeccompArchitecture.Aarch64, name, out uint expected).Should().BeTrue();
        SyscallNumbers.For(name, Architecture.Arm64).Should().Be(expected);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Another_architecture_is_refused_naming_the_call(string name)
    {
        foreach (var architecture in new[] { Architecture.Arm, Architecture.X86, Architecture.RiscV64, Architecture.S390x })
        {
            var number = () => SyscallNumbers.For(name, architecture);
            number.Should().Throw<PlatformNotSupportedException>().WithMessage($"{name}(2)*{architecture}*");
        }
    }

    [Fact]
    public void This_process_uses_its_own_architecture_numbers()
    {
        var abi = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? SeccompArchitecture.Aarch64 : SeccompArchitecture.X86_64;
        SeccompSyscalls.TryGetNumber(abi, "finit_module", out uint finitModule).Should().BeTrue();
        SeccompSyscalls.TryGetNumber(abi, "pidfd_open", out uint pidfdOpen).Should().BeTrue();
        SeccompSyscalls.TryGetNumber(abi, "pidfd_send_signal", out uint pidfdSendSignal).Should().BeTrue();
        SyscallNumbers.FinitModule.Should().Be(finitModule);
        SyscallNumbers.PidfdOpen.Should().Be(pidfdOpen);
        SyscallNumbers.PidfdSendSignal.Should().Be(pidfdSendSignal);
    }

    [Fact]
    public void An_unknown_name_is_an_argument_error()
    {
        var number = () => SyscallNumbers.For("pivot_root", Architecture.X64);
        number.Should().Throw<ArgumentException>().WithMessage("*pivot_root*");
    }

    [Theory]
    [InlineData("pivot_root")]
    [InlineData("capset")]
    [InlineData("capget")]
    public void Glibc_exports_the_wrappers_we_call_instead_of_a_number(string symbol)
    {
        var libc = NativeLibrary.Load("libc.so.6");
        NativeLibrary.TryGetExport(libc, symbol, out _).Should().BeTrue($"glibc must export {symbol}");
    }

    [Fact]
    public void A_pidfd_signal_through_the_number_reaches_the_process()
    {
        using var sleeper = System.Diagnostics.Process.Start("sleep", "30");
        int pidfd = Libc.PidfdOpen(sleeper.Id);
        pidfd.Should().BeGreaterThan(0, "pidfd_open({0}) through syscall {1}", sleeper.Id, SyscallNumbers.PidfdOpen);
        try
        {
            Libc.Syscall(Libc.SYS_pidfd_send_signal, pidfd, Libc.SIGKILL, 0, 0, 0).Should().Be(0);
            sleeper.WaitForExit(5000).Should().BeTrue();
        }
        finally
        {
            Libc.Close(pidfd);
        }
    }
}
