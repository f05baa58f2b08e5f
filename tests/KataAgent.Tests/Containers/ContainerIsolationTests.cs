using FluentAssertions;
using Google.Protobuf;
using Grpc.Core;
using KataAgent.Host;
using KataAgent.Host.Sandboxes;
using KataAgent.Protocols.Agent;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Containers;

/// <summary>What the container sees of its isolation, checked from inside it.</summary>
[Collection(HostMountTableCollection.Name)]
public class ContainerIsolationTests
{
    [Fact]
    public async Task Capabilities_user_groups_and_no_new_privs_are_what_the_spec_says()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        var spec = ContainerSpecs.Default(rootfs.Path, ["sh", "-c", "grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Uid|Gid|Groups):' /proc/self/status; id -u; id -g"]);
        spec.Process.User = new User { UID = 1000, GID = 1001, AdditionalGids = { 2000, 2001 } };
        spec.Process.Capabilities = new LinuxCapabilities { Bounding = { "CAP_KILL", "CAP_NET_BIND_SERVICE" }, Effective = { "CAP_KILL" }, Permitted = { "CAP_KILL" }, Inheritable = { "CAP_KILL" }, Ambient = { "CAP_KILL" } };

        string output = await RunToCompletionAsync(client, "caps", spec, expectedStatus: 0);

        // CAP_KILL is bit 5 (0x20); CAP_NET_BIND_SERVICE is bit 10 (0x400).
        output.Should().Contain("CapInh:\t0000000000000020")
            .And.Contain("CapPrm:\t0000000000000020")
            .And.Contain("CapEff:\t0000000000000020")
            .And.Contain("CapBnd:\t0000000000000420")
            .And.Contain("CapAmb:\t0000000000000020")
            .And.Contain("NoNewPrivs:\t1")
            .And.MatchRegex(@"Uid:\s+1000\s+1000\s+1000\s+1000")
            .And.MatchRegex(@"Gid:\s+1001\s+1001\s+1001\s+1001")
            .And.MatchRegex(@"Groups:\s+2000 2001")
            .And.EndWith("1000\n1001\n");
    }

    [Fact]
    public async Task Seccomp_rule_denies_a_syscall_with_the_given_errno()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        var spec = ContainerSpecs.Default(rootfs.Path, ["sh", "-c", "mkdir /tmp/denied; echo mkdir=$?; touch /tmp/allowed && echo touch=ok"]);
        spec.Linux.Seccomp = new LinuxSeccomp { DefaultAction = "SCMP_ACT_ALLOW", Architectures = { "SCMP_ARCH_X86_64" } };
        spec.Linux.Seccomp.Syscalls.Add(new LinuxSyscall { Names = { "mkdir", "mkdirat" }, Action = "SCMP_ACT_ERRNO", Errnoret = 13 });

        string output = await RunToCompletionAsync(client, "sec", spec, expectedStatus: 0, stderrToo: true);

        output.Should().Contain("Permission denied").And.Contain("mkdir=1").And.Contain("touch=ok");
    }

    [Fact]
    public async Task Bad_seccomp_action_is_invalid_argument_naming_the_field()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        var spec = ContainerSpecs.Default(rootfs.Path, ["true"]);
        spec.Linux.Seccomp = new LinuxSeccomp { DefaultAction = "SCMP_ACT_ALLOW" };
        spec.Linux.Seccomp.Syscalls.Add(new LinuxSyscall { Names = { "mkdir" }, Action = "SCMP_ACT_EXPLODE" });

        var create = async () => await client.CreateContainerAsync(new CreateContainerRequest { ContainerId = "bad", OCI = spec });
        var error = (await create.Should().ThrowAsync<AgentStatusException>()).Which;
        error.StatusCode.Should().Be(AgentStatusCode.InvalidArgument);
        error.Detail.Should().StartWith("OCI.Linux.Seccomp.syscalls[0].action").And.Contain("SCMP_ACT_EXPLODE");
    }

    [Fact]
    public async Task Terminal_has_the_console_size_and_follows_resizes()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        var spec = ContainerSpecs.Default(rootfs.Path, ["sh", "-c", "stty size; read go; stty size; tty"]);
        spec.Process.Terminal = true;
        spec.Process.ConsoleSize = new Box { Height = 40, Width = 120 };
        await client.CreateContainerAsync(new CreateContainerRequest { ContainerId = "tty", OCI = spec });
        await client.StartContainerAsync(new StartContainerRequest { ContainerId = "tty" });

        string first = await ReadUntilAsync(client, "tty", "40 120");
        first.Should().Contain("40 120");
        await client.TtyWinResizeAsync(new TtyWinResizeRequest { ContainerId = "tty", Row = 50, Column = 160 });
        await client.WriteStdinAsync(new WriteStreamRequest { ContainerId = "tty", Data = ByteString.CopyFromUtf8("go\n") });
        (await client.WaitProcessAsync(new WaitProcessRequest { ContainerId = "tty" })).Status.Should().Be(0);
        string rest = await ContainerLifecycleTests.ReadAllAsync(client, "tty", "", stderr: false);
        (first + rest).Should().Contain("50 160").And.Contain("/dev/pts/0");
        await client.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = "tty", Timeout = 10 });
    }

    [Fact]
    public async Task Pause_freezes_every_process_and_resume_thaws_them()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        await client.CreateContainerAsync(new CreateContainerRequest { ContainerId = "p", OCI = ContainerSpecs.Default(rootfs.Path, ["sh", "-c", "while true; do :; done"]) });
        await client.StartContainerAsync(new StartContainerRequest { ContainerId = "p" });
        int pid = ProcessOf(agent.ProcessId, "sh");

        await client.PauseContainerAsync(new PauseContainerRequest { ContainerId = "p" });
        long frozenAt = CpuTicks(pid);
        await Task.Delay(500);
        CpuTicks(pid).Should().Be(frozenAt, "a frozen process uses no CPU");
        var twice = async () => await client.PauseContainerAsync(new PauseContainerRequest { ContainerId = "p" });
        (await twice.Should().ThrowAsync<AgentStatusException>()).Which.StatusCode.Should().Be(AgentStatusCode.FailedPrecondition);

        var stats = await client.StatsContainerAsync(new StatsContainerRequest { ContainerId = "p" });
        stats.CgroupStats.CpuStats.CpuUsage.TotalUsage.Should().BeGreaterThan(0);

        await client.ResumeContainerAsync(new ResumeContainerRequest { ContainerId = "p" });
        await Task.Delay(500);
        CpuTicks(pid).Should().BeGreaterThan(frozenAt);
        await client.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = "p", Timeout = 10 });
    }

    [Fact]
    public async Task Many_containers_leave_no_fds_zombies_mounts_or_cgroups_behind()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        // Warm up once so lazily created agent state (thread pool, buffers) is not counted as a leak.
        await RunToCompletionAsync(client, "warm", ContainerSpecs.Default(rootfs.Path, ["true"]), expectedStatus: 0);
        int fdsBefore = Directory.GetFiles($"/proc/{agent.ProcessId}/fd").Length;
        string mountsBefore = HostMountTable.ReadWithoutNetns();
        string? cgroupRoot = KataAgent.Agent.Containers.Cgroups.Cgroup2Mount.Find();

        for (int i = 0; i < 500; i++)
        {
            await RunToCompletionAsync(client, $"n{i}", ContainerSpecs.Default(rootfs.Path, ["true"]), expectedStatus: 0);
        }

        Directory.GetFiles($"/proc/{agent.ProcessId}/fd").Length.Should().BeLessThanOrEqualTo(fdsBefore + 2);
        HostMountTable.ReadWithoutNetns().Should().Be(mountsBefore);
        ChildrenOf(agent.ProcessId).Should().BeEmpty("no zombie or stray process may remain");
        if (cgroupRoot is not null)
        {
            // Only this test's containers: other test classes run containers in parallel.
            Enumerable.Range(0, 500).Select(i => Path.Combine(cgroupRoot, "kata", $"n{i}")).Append(Path.Combine(cgroupRoot, "kata", "warm"))
                .Where(Directory.Exists).Should().BeEmpty();
        }
    }

    [Fact]
    public async Task An_exec_is_born_in_the_containers_namespaces_and_no_agent_thread_stays_in_them()
    {
        // The agent enters a container's namespaces on a thread made for one spawn (SpawnNamespaces); that thread must
        // end, and no other thread may ever be moved, or later work of the agent would run in the container.
        using var rootfs = await BusyboxRootfs.CreateAsync();
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        var agentNamespaces = NamespacesOf($"/proc/{agent.ProcessId}");
        await client.CreateContainerAsync(new CreateContainerRequest { ContainerId = "ns", OCI = ContainerSpecs.Default(rootfs.Path, ["sleep", "300"]) });
        await client.StartContainerAsync(new StartContainerRequest { ContainerId = "ns" });

        string[] kinds = ["pid", "ipc", "uts", "mnt", "net", "cgroup"];
        string script = string.Join("; ", kinds.Select(k => $"echo {k} $(readlink /proc/1/ns/{k}) $(readlink /proc/self/ns/{k})"));
        var (status, stdout, stderr) = await ContainerRun.ExecAsync(client, "ns", "probe", new Process { Args = { "sh", "-c", script }, Env = { "PATH=/bin" }, Cwd = "/" });

        status.Should().Be(0, stderr);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines.Should().HaveCount(kinds.Length, stdout);
        foreach (string line in lines)
        {
            var fields = line.Split(' ');
            fields[2].Should().Be(fields[1], "the exec is in the {0} namespace of the container's init", fields[0]);
        }
        lines.Single(l => l.StartsWith("pid ", StringComparison.Ordinal)).Split(' ')[1].Should().NotBe(agentNamespaces["pid"], "the container has a PID namespace of its own");

        // The spawning threads end after their spawn; until they have, wait (not a timing: a bound on a hang).
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (ThreadsOutside(agent.ProcessId, agentNamespaces) is { Count: > 0 } strays)
        {
            DateTime.UtcNow.Should().BeBefore(deadline, "every thread of the agent is in the agent's namespaces again: {0}", string.Join(", ", strays));
            await Task.Delay(50);
        }
        await client.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = "ns", Timeout = 10 });
    }

    /// <summary>ns kind → link target of a process or thread directory, pid_for_children included.</summary>
    private static Dictionary<string, string> NamespacesOf(string directory) =>
        new[] { "pid", "pid_for_children", "ipc", "uts", "mnt", "net", "cgroup" }.ToDictionary(k => k, k => new FileInfo($"{directory}/ns/{k}").LinkTarget ?? "");

    /// <summary>The agent's threads with any namespace other than the agent's, as "tid kind".</summary>
    private static List<string> ThreadsOutside(int agentPid, Dictionary<string, string> agentNamespaces)
    {
        var strays = new List<string>();
        foreach (string task in Directory.GetDirectories($"/proc/{agentPid}/task"))
        {
            try
            {
                strays.AddRange(NamespacesOf(task).Where(ns => ns.Value != agentNamespaces[ns.Key]).Select(ns => $"{Path.GetFileName(task)} {ns.Key}"));
            }
            catch (IOException)
            {
                // The thread ended while it was read.
            }
        }
        return strays;
    }

    internal static async Task<string> RunToCompletionAsync(AgentClient client, string id, Spec spec, int expectedStatus, bool stderrToo = false)
    {
        await client.CreateContainerAsync(new CreateContainerRequest { ContainerId = id, OCI = spec });
        await client.StartContainerAsync(new StartContainerRequest { ContainerId = id });
        int status = (await client.WaitProcessAsync(new WaitProcessRequest { ContainerId = id })).Status;
        string output = await ContainerLifecycleTests.ReadAllAsync(client, id, "", stderr: false);
        if (stderrToo)
        {
            output += await ContainerLifecycleTests.ReadAllAsync(client, id, "", stderr: true);
        }
        await client.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = id, Timeout = 10 });
        status.Should().Be(expectedStatus, output);
        return output;
    }

    private static async Task<string> ReadUntilAsync(AgentClient client, string id, string expected)
    {
        string text = "";
        while (!text.Contains(expected))
        {
            var chunk = await client.ReadStdoutAsync(new ReadStreamRequest { ContainerId = id, Len = 4096 });
            if (chunk.Data.IsEmpty)
            {
                break;
            }
            text += chunk.Data.ToStringUtf8();
        }
        return text;
    }

    private static IEnumerable<int> ChildrenOf(int pid) =>
        Directory.GetDirectories("/proc").Select(Path.GetFileName).Where(n => int.TryParse(n, out _)).Select(int.Parse!)
            .Where(p => ParentOf(p) == pid);

    private static int ParentOf(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1]);
        }
        catch (IOException)
        {
            return -1;
        }
    }

    private static int ProcessOf(int agentPid, string command) =>
        ChildrenOf(agentPid).Single(p => File.ReadAllText($"/proc/{p}/comm").Trim() == command);

    private static long CpuTicks(int pid)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[11]) + long.Parse(fields[12]);
    }
}
