using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using FluentAssertions;
using Google.Protobuf;
using KataAgent.Host;
using KataAgent.Host.Sandboxes;
using KataAgent.Protocols.Agent;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Containers;

/// <summary>The process part of the spec (cwd, env, rlimits, oom_score_adj, user, hostname, sysctls), exit statuses and stdio, checked from inside the container.</summary>
public class ContainerProcessSettingsTests
{
    [Fact]
    public async Task Cwd_is_the_working_directory_of_the_init_and_of_an_exec()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        var spec = ContainerSpecs.Default(rootfs.Path, ["sh", "-c", "pwd; ls; cat"]);
        spec.Process.Cwd = "/var";
        File.WriteAllText(Path.Combine(rootfs.Path, "var", "marker-in-var"), "");
        await client.CreateContainerAsync(new CreateContainerRequest { ContainerId = "cwd", OCI = spec });
        await client.StartContainerAsync(new StartContainerRequest { ContainerId = "cwd" });

        var exec = new Process { Args = { "pwd" }, Env = { "PATH=/bin" }, Cwd = "/etc" };
        var (execStatus, execOut, _) = await ContainerRun.ExecAsync(client, "cwd", "e", exec);
        execStatus.Should().Be(0);
        execOut.Should().Be("/etc\n");

        await client.CloseStdinAsync(new CloseStdinRequest { ContainerId = "cwd" });
        (await ContainerRun.WaitAsync(client, "cwd", "")).Should().Be(0);
        (await ContainerRun.ReadAllAsync(client, "cwd", "", stderr: false)).ToUtf8().Should().Be("/var\nmarker-in-var\n", agent.Output);
        await client.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = "cwd", Timeout = 10 });
    }

    [Fact]
    public async Task Env_is_passed_exactly_and_nothing_of_the_agent_environment_leaks()
    {
        const string Canary = "KATA_TEST_AGENT_ONLY";
        using var rootfs = await BusyboxRootfs.CreateAsync();
        await using var agent = AgentProcess.StartOnUnixSocket(new Dictionary<string, string?> { [Canary] = "agent-secret-7f3a" });
        await using var client = await agent.ConnectAsync();
        File.ReadAllText($"/proc/{agent.ProcessId}/environ").Should().Contain($"{Canary}=agent-secret-7f3a", "the agent itself must carry the canary for this test to mean anything");

        string[] env = ["PATH=/bin:/usr/bin", "A=1", "SPACES=a b  c", "EQUALS=x=y=z", "EMPTY=", "UTF8=héllo"];
        var spec = ContainerSpecs.Default(rootfs.Path, ["env"]);
        spec.Process.Env.Clear();
        spec.Process.Env.Add(env);
        var (status, stdout, stderr) = await ContainerRun.RunAsync(client, "env", spec);
        status.Should().Be(0, stderr);
        stdout.Should().Be(string.Join('\n', env) + "\n");

        // An exec gets its own environment, not the init's and not the agent's.
        spec = ContainerSpecs.Default(rootfs.Path, ["sleep", "300"]);
        await client.CreateContainerAsync(new CreateContainerRequest { ContainerId = "env2", OCI = spec });
        await client.StartContainerAsync(new StartContainerRequest { ContainerId = "env2" });
        var (execStatus, execOut, _) = await ContainerRun.ExecAsync(client, "env2", "e", new Process { Args = { "/bin/env" }, Env = { "ONLY=exec" }, Cwd = "/" });
        execStatus.Should().Be(0);
        execOut.Should().Be("ONLY=exec\n");
        await client.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = "env2", Timeout = 10 });
    }

    [Fact]
    public async Task Rlimits_are_applied_soft_and_hard()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        var spec = ContainerSpecs.Default(rootfs.Path, ["sh", "-c", "ulimit -n; ulimit -Hn; ulimit -Sc; grep -E '^Max (open files|core file size|pending signals)' /proc/self/limits"]);
        spec.Process.Rlimits.Add(new POSIXRlimit { Type = "RLIMIT_NOFILE", Soft = 1234, Hard = 2345 });
        spec.Process.Rlimits.Add(new POSIXRlimit { Type = "RLIMIT_CORE", Soft = 0, Hard = ulong.MaxValue });
        spec.Process.Rlimits.Add(new POSIXRlimit { Type = "RLIMIT_SIGPENDING", Soft = 77, Hard = 88 });

        var (status, stdout, stderr) = await ContainerRun.RunAsync(client, "rl", spec);

        status.Should().Be(0, stderr);
        stdout.Should().StartWith("1234\n2345\n0\n");
        stdout.Should().MatchRegex(@"Max open files\s+1234\s+2345\s+files")
            .And.MatchRegex(@"Max core file size\s+0\s+unlimited\s+bytes")
            .And.MatchRegex(@"Max pending signals\s+77\s+88\s+signals");
    }

    [Theory]
    [InlineData(345)]
    [InlineData(1000)]
    public async Task Oom_score_adj_is_applied(int score)
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        var spec = ContainerSpecs.Default(rootfs.Path, ["cat", "/proc/self/oom_score_adj"]);
        spec.Process.OOMScoreAdj = score;

        var (status, stdout, stderr) = await ContainerRun.RunAsync(client, "oom", spec);

        status.Should().Be(0, stderr);
        stdout.Should().Be($"{score}\n");
    }

    [Fact]
    public async Task Sysctls_are_set_in_the_container_namespaces_and_the_host_keeps_its_values()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        string hostMsgmax = File.ReadAllText("/proc/sys/kernel/msgmax").Trim();
        string hostForward = File.ReadAllText("/proc/sys/net/ipv4/ip_forward").Trim();
        string wantedMsgmax = hostMsgmax == "12345" ? "23456" : "12345";
        string wantedForward = hostForward == "1" ? "0" : "1";
        // The default spec makes /proc/sys read-only: sysctls must still be applied (runc writes them first).
        var spec = ContainerSpecs.Default(rootfs.Path, ["sh", "-c", "cat /proc/sys/kernel/msgmax /proc/sys/net/ipv4/ip_forward"]);
        spec.Linux.Namespaces.Add(new LinuxNamespace { Type = "network" });
        spec.Linux.Sysctl["kernel.msgmax"] = wantedMsgmax;
        spec.Linux.Sysctl["net.ipv4.ip_forward"] = wantedForward;

        var (status, stdout, stderr) = await ContainerRun.RunAsync(client, "sysctl", spec);

        status.Should().Be(0, stderr + agent.Output);
        stdout.Should().Be($"{wantedMsgmax}\n{wantedForward}\n");
        File.ReadAllText("/proc/sys/kernel/msgmax").Trim().Should().Be(hostMsgmax);
        File.ReadAllText("/proc/sys/net/ipv4/ip_forward").Trim().Should().Be(hostForward);
    }

    [Fact]
    public async Task Exit_codes_pass_through_and_death_by_signal_is_128_plus_the_signal()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        foreach (int code in new[] { 0, 1, 42, 255 })
        {
            var (status, _, stderr) = await ContainerRun.RunAsync(client, $"exit{code}", ContainerSpecs.Default(rootfs.Path, ["sh", "-c", $"exit {code}"]));
            status.Should().Be(code, stderr);
        }

        // PID 1 of a PID namespace ignores signals it has no handler for, so signal an exec...
        await client.CreateContainerAsync(new CreateContainerRequest { ContainerId = "sig", OCI = ContainerSpecs.Default(rootfs.Path, ["sleep", "300"]) });
        await client.StartContainerAsync(new StartContainerRequest { ContainerId = "sig" });
        (await ContainerRun.ExecAsync(client, "sig", "term", new Process { Args = { "sh", "-c", "kill -TERM $$; sleep 5" }, Env = { "PATH=/bin" }, Cwd = "/" })).Status.Should().Be(128 + 15);
        (await ContainerRun.ExecAsync(client, "sig", "kill", new Process { Args = { "sh", "-c", "kill -KILL $$; sleep 5" }, Env = { "PATH=/bin" }, Cwd = "/" })).Status.Should().Be(128 + 9);
        (await ContainerRun.ExecAsync(client, "sig", "x7", new Process { Args = { "sh", "-c", "exit 7" }, Env = { "PATH=/bin" }, Cwd = "/" })).Status.Should().Be(7);
        await client.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = "sig", Timeout = 10 });

        // ...and an init that is not PID 1: one that joins the PID namespace of the sandbox's first container (its
        // infra container) with sandbox_pidns, the spec without a pid namespace, as Kata's runtime sends it.
        await client.CreateContainerAsync(new CreateContainerRequest { ContainerId = "infra", OCI = ContainerSpecs.Default(rootfs.Path, ["sleep", "300"]) });
        await client.StartContainerAsync(new StartContainerRequest { ContainerId = "infra" });
        var shared = ContainerSpecs.Default(rootfs.Path, ["sh", "-c", "kill -TERM $$; sleep 5"]);
        shared.Linux.Namespaces.Remove(shared.Linux.Namespaces.Single(n => n.Type == "pid"));
        await client.CreateContainerAsync(new CreateContainerRequest { ContainerId = "sigpid", OCI = shared, SandboxPidns = true });
        await client.StartContainerAsync(new StartContainerRequest { ContainerId = "sigpid" });
        int sharedStatus = await ContainerRun.WaitAsync(client, "sigpid", "");
        sharedStatus.Should().Be(128 + 15, agent.Output);
        await client.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = "sigpid", Timeout = 10 });
        await client.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = "infra", Timeout = 10 });
    }

    [Fact]
    public async Task No_fd_of_the_agent_leaks_into_the_init_or_an_exec()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();

        var (status, stdout, stderr) = await ContainerRun.RunAsync(client, "fds", ContainerSpecs.Default(rootfs.Path, ["ls", "-l", "/proc/self/fd"]));
        status.Should().Be(0, stderr);
        var fds = ParseFdListing(stdout);
        fds.Keys.Should().BeEquivalentTo([0, 1, 2, 3], stdout);
        AssertStdioPipes(fds, stdout);
        fds[3].Should().Match(v => v.Length == 0 || v.EndsWith("/fd"), "fd 3 is ls's own directory fd (closed by the time ls reads its link)");

        // The init itself, seen from an exec: exactly 0, 1, 2.
        await client.CreateContainerAsync(new CreateContainerRequest { ContainerId = "fds2", OCI = ContainerSpecs.Default(rootfs.Path, ["sleep", "300"]) });
        await client.StartContainerAsync(new StartContainerRequest { ContainerId = "fds2" });
        var (initStatus, initFds, _) = await ContainerRun.ExecAsync(client, "fds2", "init", new Process { Args = { "ls", "-l", "/proc/1/fd" }, Env = { "PATH=/bin" }, Cwd = "/" });
        initStatus.Should().Be(0);
        var init = ParseFdListing(initFds);
        init.Keys.Should().BeEquivalentTo([0, 1, 2], initFds);
        AssertStdioPipes(init, initFds);

        var (execStatus, execFds, _) = await ContainerRun.ExecAsync(client, "fds2", "self", new Process { Args = { "ls", "-l", "/proc/self/fd" }, Env = { "PATH=/bin" }, Cwd = "/" });
        execStatus.Should().Be(0);
        var exec = ParseFdListing(execFds);
        exec.Keys.Should().BeEquivalentTo([0, 1, 2, 3], execFds);
        AssertStdioPipes(exec, execFds);
        await client.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = "fds2", Timeout = 10 });
    }

    [Fact]
    public async Task A_uid_without_a_passwd_entry_runs_as_that_uid_and_gid()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        File.ReadAllText(Path.Combine(rootfs.Path, "etc", "passwd")).Should().NotContain("4242");
        var spec = ContainerSpecs.Default(rootfs.Path, ["sh", "-c", "id -u; id -g; grep -E '^(Uid|Gid|Groups):' /proc/self/status"]);
        spec.Process.User = new User { UID = 4242, GID = 4343 };

        var (status, stdout, stderr) = await ContainerRun.RunAsync(client, "uid", spec);

        status.Should().Be(0, stderr);
        stdout.Should().StartWith("4242\n4343\n")
            .And.MatchRegex(@"Uid:\s+4242\s+4242\s+4242\s+4242")
            .And.MatchRegex(@"Gid:\s+4343\s+4343\s+4343\s+4343")
            .And.MatchRegex(@"Groups:\s*\n");
    }

    [Fact]
    public async Task Hostname_is_set_inside_and_the_host_keeps_its_own()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        string hostHostname = File.ReadAllText("/proc/sys/kernel/hostname");
        var spec = ContainerSpecs.Default(rootfs.Path, ["sh", "-c", "hostname; cat /proc/sys/kernel/hostname"]);
        spec.Hostname = "kata-proc-settings";

        var (status, stdout, stderr) = await ContainerRun.RunAsync(client, "host", spec);

        status.Should().Be(0, stderr);
        stdout.Should().Be("kata-proc-settings\nkata-proc-settings\n");
        File.ReadAllText("/proc/sys/kernel/hostname").Should().Be(hostHostname);
    }

    [Fact]
    public async Task A_mebibyte_written_just_before_exit_is_read_back_whole()
    {
        const int Size = 1024 * 1024;
        using var rootfs = await BusyboxRootfs.CreateAsync();
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        // Random bytes, their digest on stderr, then the bytes on stdout as the very last thing the process does.
        var spec = ContainerSpecs.Default(rootfs.Path, ["sh", "-c", $"head -c {Size} /dev/urandom > /tmp/data; md5sum /tmp/data >&2; exec cat /tmp/data"]);
        await client.CreateContainerAsync(new CreateContainerRequest { ContainerId = "big", OCI = spec });
        await client.StartContainerAsync(new StartContainerRequest { ContainerId = "big" });

        // Wait for the exit before reading anything: the bytes must have outlived the process.
        (await ContainerRun.WaitAsync(client, "big", "")).Should().Be(0);
        byte[] stdout = await ContainerRun.ReadAllAsync(client, "big", "", stderr: false);
        string stderr = (await ContainerRun.ReadAllAsync(client, "big", "", stderr: true)).ToUtf8();
        await client.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = "big", Timeout = 10 });

        stdout.Length.Should().Be(Size);
        stderr.Should().StartWith(Convert.ToHexStringLower(MD5.HashData(stdout)) + "  /tmp/data");
    }

    [Fact]
    public async Task Closing_stdin_ends_cat_after_it_echoed_what_was_written()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        await client.CreateContainerAsync(new CreateContainerRequest { ContainerId = "cat", OCI = ContainerSpecs.Default(rootfs.Path, ["cat"]) });
        await client.StartContainerAsync(new StartContainerRequest { ContainerId = "cat" });

        await client.WriteStdinAsync(new WriteStreamRequest { ContainerId = "cat", Data = ByteString.CopyFromUtf8("first line\n") });
        await client.WriteStdinAsync(new WriteStreamRequest { ContainerId = "cat", Data = ByteString.CopyFromUtf8("no newline") });
        await client.CloseStdinAsync(new CloseStdinRequest { ContainerId = "cat" });

        (await ContainerRun.WaitAsync(client, "cat", "")).Should().Be(0);
        (await ContainerRun.ReadAllAsync(client, "cat", "", stderr: false)).ToUtf8().Should().Be("first line\nno newline");
        await client.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = "cat", Timeout = 10 });
    }

    /// <summary>busybox `ls -l /proc/.../fd` → fd number → link target.</summary>
    private static Dictionary<int, string> ParseFdListing(string listing) =>
        Regex.Matches(listing, @"^l\S+ .* (\d+)(?: -> (.+))?$", RegexOptions.Multiline).ToDictionary(m => int.Parse(m.Groups[1].Value), m => m.Groups[2].Value.TrimEnd());

    private static void AssertStdioPipes(Dictionary<int, string> fds, string listing)
    {
        fds[0].Should().StartWith("pipe:", listing);
        fds[1].Should().StartWith("pipe:", listing);
        fds[2].Should().StartWith("pipe:", listing);
        fds[0].Should().NotBe(fds[1], "stdin and stdout are different pipes");
        fds[1].Should().NotBe(fds[2], "stdout and stderr are different pipes");
        fds.Values.Should().NotContain(v => v.StartsWith("socket:") || v.Contains("memfd:") || v.StartsWith("anon_inode:"), listing);
    }
}

/// <summary>Running containers and execs to completion with timeouts, so a hang fails the test instead of the run.</summary>
internal static class ContainerRun
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    public static async Task<(int Status, string Stdout, string Stderr)> RunAsync(AgentClient client, string id, Spec spec)
    {
        await client.CreateContainerAsync(new CreateContainerRequest { ContainerId = id, OCI = spec });
        try
        {
            await client.StartContainerAsync(new StartContainerRequest { ContainerId = id });
            int status = await WaitAsync(client, id, "");
            string stdout = (await ReadAllAsync(client, id, "", stderr: false)).ToUtf8();
            string stderr = (await ReadAllAsync(client, id, "", stderr: true)).ToUtf8();
            return (status, stdout, stderr);
        }
        finally
        {
            await client.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = id, Timeout = 10 });
        }
    }

    public static async Task<(int Status, string Stdout, string Stderr)> ExecAsync(AgentClient client, string id, string execId, Process process)
    {
        await client.ExecProcessAsync(new ExecProcessRequest { ContainerId = id, ExecId = execId, Process = process });
        await client.CloseStdinAsync(new CloseStdinRequest { ContainerId = id, ExecId = execId });
        int status = await WaitAsync(client, id, execId);
        string stdout = (await ReadAllAsync(client, id, execId, stderr: false)).ToUtf8();
        string stderr = (await ReadAllAsync(client, id, execId, stderr: true)).ToUtf8();
        return (status, stdout, stderr);
    }

    public static async Task<int> WaitAsync(AgentClient client, string id, string execId)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        return (await client.WaitProcessAsync(new WaitProcessRequest { ContainerId = id, ExecId = execId }, timeout.Token)).Status;
    }

    public static async Task<byte[]> ReadAllAsync(AgentClient client, string id, string execId, bool stderr)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        using var all = new MemoryStream();
        while (true)
        {
            var request = new ReadStreamRequest { ContainerId = id, ExecId = execId, Len = 64 * 1024 };
            var chunk = stderr ? await client.ReadStderrAsync(request, timeout.Token) : await client.ReadStdoutAsync(request, timeout.Token);
            if (chunk.Data.IsEmpty)
            {
                return all.ToArray();
            }
            chunk.Data.WriteTo(all);
        }
    }

    public static string ToUtf8(this byte[] bytes) => Encoding.UTF8.GetString(bytes);
}
