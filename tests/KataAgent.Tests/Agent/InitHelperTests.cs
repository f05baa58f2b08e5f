using System.Runtime.InteropServices;
using CliWrap;
using CliWrap.Buffered;
using FluentAssertions;
using KataAgent.Helpers.Processes;
using KataAgent.Linux.Interop;
using KataAgent.Testing;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Agent;

/// <summary>
/// kata-agent-init, the agent's spawn-chain helper: run from a sealed memfd (runc's CVE-2019-5736: a container process
/// must not be able to replace the binary the next container start runs as root), and required at agent start.
/// </summary>
[Collection(DescriptorCountCollection.Name)]
public class InitHelperTests
{
    [Fact]
    public unsafe void The_helper_runs_from_a_sealed_copy_that_proc_pid_exe_cannot_open_for_write_while_it_runs_or_after()
    {
        using var executable = SealedExecutable.Load(RepoPaths.InitHelperBinary, "kata-agent-init");
        Libc.Fcntl(executable.Fd, Libc.F_GET_SEALS, 0).Should().Be(SealedExecutable.Seals);
        executable.Size.Should().Be(new FileInfo(RepoPaths.InitHelperBinary).Length);

        // The pause mode waits forever: a helper that runs while the "container" holds its /proc/PID/exe.
        int pid = ProcessSpawner.Spawn(executable.ExecutablePath, ["kata-agent-init", "pause"], [], []);
        int handle = -1;
        try
        {
            string exe = $"/proc/{pid}/exe";
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (new FileInfo(exe).LinkTarget?.StartsWith("/memfd:kata-agent-init", StringComparison.Ordinal) != true)
            {
                DateTime.UtcNow.Should().BeBefore(deadline, "the helper execs its memfd copy");
                Thread.Sleep(10);
            }

            Libc.Open(exe, Libc.O_WRONLY | Libc.O_CLOEXEC).Should().Be(-1, "a running executable cannot be opened for write");
            Marshal.GetLastPInvokeError().Should().Be(Errno.ETXTBSY);
            // What the attack keeps for later: a handle on the file that outlives the process.
            handle = Libc.Open(exe, Libc.O_PATH | Libc.O_CLOEXEC);
            handle.Should().BeGreaterThan(0, LinuxException.FromLastError("open O_PATH").Message);
        }
        finally
        {
            Libc.Kill(pid, Libc.SIGKILL);
            Libc.SigInfo info;
            Libc.WaitId(Libc.P_PID, pid, &info, Libc.WEXITED);
        }

        try
        {
            // Once it has exited, nothing stops the open: the seals stop every change to the bytes.
            int writable = Libc.Open($"/proc/self/fd/{handle}", Libc.O_WRONLY | Libc.O_CLOEXEC);
            writable.Should().BeGreaterThan(0, LinuxException.FromLastError("reopen for write").Message);
            try
            {
                byte* garbage = stackalloc byte[4];
                Libc.Write(writable, garbage, 4).Should().Be(-1);
                Marshal.GetLastPInvokeError().Should().Be(Errno.EPERM, "F_SEAL_WRITE");
                Libc.Ftruncate(writable, 0).Should().Be(-1);
                Marshal.GetLastPInvokeError().Should().Be(Errno.EPERM, "F_SEAL_SHRINK");
                Libc.Ftruncate(writable, executable.Size + 4096).Should().Be(-1);
                Marshal.GetLastPInvokeError().Should().Be(Errno.EPERM, "F_SEAL_GROW");
                Libc.Fcntl(writable, Libc.F_ADD_SEALS, 0).Should().Be(-1, "F_SEAL_SEAL: the seals cannot be changed either");
            }
            finally
            {
                Libc.Close(writable);
            }
        }
        finally
        {
            Libc.Close(handle);
        }
        File.ReadAllBytes($"/proc/self/fd/{executable.Fd}").Should().Equal(File.ReadAllBytes(RepoPaths.InitHelperBinary));
    }

    [Fact]
    public void A_missing_helper_file_is_a_FileNotFoundException_naming_it()
    {
        using var temp = new TempDirectory();

        var load = () => SealedExecutable.Load(temp.File("kata-agent-init"), "kata-agent-init");

        load.Should().Throw<FileNotFoundException>().Which.FileName.Should().Be(temp.File("kata-agent-init"));
    }

    [Fact]
    public async Task The_agent_without_its_helper_beside_it_does_not_start_and_names_the_path()
    {
        using var temp = new TempDirectory();
        string agent = temp.File("kata-agent");
        File.Copy(RepoPaths.AgentBinary, agent);
        File.SetUnixFileMode(agent, (UnixFileMode)Convert.ToInt32("755", 8));

        var result = await Cli.Wrap(agent).WithArguments(["--server-addr", $"unix://{temp.File("agent.sock")}"])
            .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync();

        result.ExitCode.Should().Be(1, result.StandardError);
        result.StandardError.Should().Contain($"the spawn-chain helper {temp.File("kata-agent-init")} is missing");
        File.Exists(temp.File("agent.sock")).Should().BeFalse("the agent stops before it listens");
    }
}
