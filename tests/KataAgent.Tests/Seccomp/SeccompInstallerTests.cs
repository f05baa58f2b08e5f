using System.Runtime.InteropServices;
using FluentAssertions;
using KataAgent.Linux.Interop;
using KataAgent.Helpers.Seccomp;
using Xunit;
using static KataAgent.Tests.Seccomp.SeccompTestProfiles;

namespace KataAgent.Tests.Seccomp;

/// <summary>
/// The installer's structs match the C layout, and the real kernel accepts the programs as
/// classic BPF. A seccomp filter is never installed here: it would confine the test host.
/// </summary>
public unsafe partial class SeccompInstallerTests
{
    private const int AF_UNIX = 1, SOCK_DGRAM = 2, SOCK_CLOEXEC = 0x80000, SOL_SOCKET = 1, SO_ATTACH_FILTER = 26;

    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    private static partial int SetSockOpt(int fd, int level, int name, void* value, uint length);

    [Fact]
    public void Sock_fprog_and_sock_filter_match_linux_filter_h()
    {
        Marshal.SizeOf<SockFilter>().Should().Be(8);
        sizeof(SockFilter).Should().Be(8);
        Marshal.OffsetOf<SockFilter>(nameof(SockFilter.Code)).ToInt32().Should().Be(0);
        Marshal.OffsetOf<SockFilter>(nameof(SockFilter.Jt)).ToInt32().Should().Be(2);
        Marshal.OffsetOf<SockFilter>(nameof(SockFilter.Jf)).ToInt32().Should().Be(3);
        Marshal.OffsetOf<SockFilter>(nameof(SockFilter.K)).ToInt32().Should().Be(4);

        if (IntPtr.Size == 8)
        {
            Marshal.SizeOf<SockFprog>().Should().Be(16);
            sizeof(SockFprog).Should().Be(16);
            Marshal.OffsetOf<SockFprog>(nameof(SockFprog.Length)).ToInt32().Should().Be(0);
            Marshal.OffsetOf<SockFprog>(nameof(SockFprog.Filter)).ToInt32().Should().Be(8);
        }
    }

    [Fact]
    public void Program_bytes_are_native_sock_filter_records()
    {
        var program = SeccompCompiler.Compile(Profile(SeccompAction.Errno, Rule("read", SeccompAction.Allow)), SeccompArchitecture.X86_64);
        var bytes = program.Bytes;
        for (var i = 0; i < program.InstructionCount; i++)
        {
            var insn = program.Instructions[i];
            BitConverter.ToUInt16(bytes.Slice(i * 8, 2)).Should().Be(insn.Code);
            bytes[i * 8 + 2].Should().Be(insn.Jt);
            bytes[i * 8 + 3].Should().Be(insn.Jf);
            BitConverter.ToUInt32(bytes.Slice(i * 8 + 4, 4)).Should().Be(insn.K);
        }
        program.Instructions[^1].Code.Should().Be(0x06, "a classic-BPF program must end in a return");
    }

    [Fact]
    public void Program_for_another_machine_is_refused_without_a_syscall()
    {
        var foreign = SeccompCompiler.NativeArchitecture == SeccompArchitecture.Aarch64 ? SeccompArchitecture.X86_64 : SeccompArchitecture.Aarch64;
        var program = SeccompCompiler.Compile(Profile(SeccompAction.Allow), foreign);
        SeccompInstaller.TryInstall(program).Should().Be(KataAgent.Linux.Interop.Errno.EINVAL);
        var act = () => SeccompInstaller.Install(program);
        act.Should().Throw<LinuxException>().Which.Errno.Should().Be(KataAgent.Linux.Interop.Errno.EINVAL);
    }

    [Fact]
    public void Install_reaches_the_kernel_without_allocating()
    {
        // The kernel checks the flags before anything else (kernel/seccomp.c,
        // seccomp_set_mode_filter), so an unknown flag bit makes the real call fail with
        // EINVAL and install nothing. This exercises the whole native path: syscall number,
        // sock_fprog, errno. It runs on its own thread with an allow-all program, so even a
        // kernel that accepted the call would confine only that short-lived thread.
        var native = SeccompCompiler.NativeArchitecture;
        if (native is null)
        {
            return;
        }
        var profile = Profile(SeccompAction.Allow) with { Flags = (SeccompFilterFlags)(1u << 30) };
        var program = SeccompCompiler.Compile(profile, native);
        program.Flags.Should().Be((SeccompFilterFlags)(1u << 30));

        int errno = -1;
        long allocated = -1;
        string seccompMode = "";
        var thread = new Thread(() =>
        {
            SeccompInstaller.TryInstall(program); // warm: any first-call work happens here
            var before = GC.GetAllocatedBytesForCurrentThread();
            errno = SeccompInstaller.TryInstall(program);
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            seccompMode = File.ReadLines("/proc/thread-self/status").First(l => l.StartsWith("Seccomp:", StringComparison.Ordinal));
        });
        thread.Start();
        thread.Join();

        errno.Should().Be(KataAgent.Linux.Interop.Errno.EINVAL);
        allocated.Should().Be(0);
        seccompMode.Should().MatchRegex(@"^Seccomp:\s+0$", "nothing may have been installed");
    }

    [Fact]
    public void Kernel_knows_the_actions_the_compiler_emits()
    {
        if (SeccompCompiler.NativeArchitecture is null)
        {
            return;
        }
        SeccompInstaller.IsActionAvailable(SeccompReturnValues.Allow).Should().BeTrue();
        SeccompInstaller.IsActionAvailable(SeccompReturnValues.KillProcess).Should().BeTrue();
        SeccompInstaller.IsActionAvailable(SeccompReturnValues.Errno).Should().BeTrue();
        SeccompInstaller.IsActionAvailable(SeccompReturnValues.Log).Should().BeTrue();
    }

    [Fact]
    public void Kernel_classic_bpf_checker_accepts_the_docker_like_program()
    {
        // SO_ATTACH_FILTER runs the kernel's bpf_check_classic (opcodes, jump ranges, final
        // return) on the same struct sock_fprog, on a throwaway socket: a real-kernel check of
        // the program and of SockFprog without confining this process.
        var native = SeccompCompiler.NativeArchitecture;
        if (native is null)
        {
            return;
        }
        var profile = SeccompLargeProfileTests.DockerLike();
        foreach (var program in new[]
                 {
                     SeccompCompiler.Compile(profile, native),
                     SeccompCompiler.Compile(Profile(SeccompAction.Allow), native),
                 })
        {
            var fd = Libc.Socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            fd.Should().BeGreaterThanOrEqualTo(0);
            try
            {
                fixed (byte* filter = program.Bytes)
                {
                    var prog = new SockFprog { Length = (ushort)program.InstructionCount, Filter = (SockFilter*)filter };
                    var rc = SetSockOpt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, (uint)sizeof(SockFprog));
                    rc.Should().Be(0, $"the kernel refused the program: errno {Marshal.GetLastPInvokeError()}");
                }
            }
            finally
            {
                Libc.Close(fd);
            }
        }
    }

    [Fact]
    public void Kernel_classic_bpf_checker_rejects_a_broken_program()
    {
        // Guards the check above: a jump past the end must be refused.
        if (SeccompCompiler.NativeArchitecture is null)
        {
            return;
        }
        var broken = new[] { new SockFilter(0x15, 5, 0, 0), new SockFilter(0x06, 0, 0, 0) };
        var fd = Libc.Socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        try
        {
            fixed (SockFilter* filter = broken)
            {
                var prog = new SockFprog { Length = 2, Filter = filter };
                SetSockOpt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, (uint)sizeof(SockFprog)).Should().Be(-1);
                Marshal.GetLastPInvokeError().Should().Be(KataAgent.Linux.Interop.Errno.EINVAL);
            }
        }
        finally
        {
            Libc.Close(fd);
        }
    }
}
