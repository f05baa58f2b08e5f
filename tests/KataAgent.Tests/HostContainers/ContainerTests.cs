using System.Security.Cryptography;
using System.Text;
using FluentAssertions;
using Grpc.Core;
using KataAgent.Host;
using KataAgent.Host.Containers;
using KataAgent.Host.Sandboxes;
using KataAgent.Protocols.Agent;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.HostContainers;

/// <summary>
/// Container and ContainerProcess against the published agent, each test twice: stdio over the
/// kataagent.v1 Attach stream, and over Kata's unary calls (ContainerOptions.UseStreaming = false); and all of it
/// once per protocol (<see cref="GrpcContainerTests"/>, <see cref="TtrpcContainerTests"/>).
/// </summary>
public abstract class ContainerTests(ContainerAgentFixture fixture)
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    private static ContainerOptions Options(bool streaming) => new() { UseStreaming = streaming };

    private Task<Container> CreateAsync(bool streaming, params string[] args) =>
        Container.CreateAsync(fixture.Client, fixture.NewId(streaming ? "s" : "u"), ContainerSpecs.Default(fixture.RootfsPath, args), Options(streaming));

    [Fact]
    public async Task The_agent_is_detected_to_have_the_streaming_extension()
    {
        fixture.Client.Protocol.Should().Be(fixture.Protocol);
        (await StreamingSupport.IsAvailableAsync(fixture.Client)).Should().BeTrue();
        (await StreamingSupport.IsAvailableAsync(fixture.Client)).Should().BeTrue();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Echo_output_and_exit_code_come_through(bool streaming)
    {
        await using var container = await CreateAsync(streaming, "sh", "-c", "echo hello from $(hostname); exit 3");
        container.UsesStreaming.Should().Be(streaming);
        container.InitProcess.UsesStreaming.Should().Be(streaming);
        container.InitProcess.ExecId.Should().Be(container.Id);

        var stdout = ReadAllAsync(container.InitProcess.Stdout);
        await container.StartAsync();

        (await container.InitProcess.WaitAsync().WaitAsync(Limit)).Should().Be(3, fixture.Agent.Output);
        (await stdout.WaitAsync(Limit)).Should().Be("hello from container\n");
        (await ReadAllAsync(container.InitProcess.Stderr).WaitAsync(Limit)).Should().BeEmpty();
        await container.RemoveAsync();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Stdin_goes_through_cat_to_stdout_byte_for_byte(bool streaming)
    {
        await using var container = await CreateAsync(streaming, "cat");
        var process = container.InitProcess;
        // More than one stdin chunk and more than the agent's and the pipes' buffers: both directions must flow at once.
        byte[] payload = RandomNumberGenerator.GetBytes(3 * 1024 * 1024 + 17);
        var received = new MemoryStream();
        var copy = process.Stdout.CopyToAsync(received);
        await container.StartAsync();

        await process.Stdin.WriteAsync(payload.AsMemory(0, 100));
        await process.Stdin.WriteAsync(payload.AsMemory(100));
        await process.Stdin.CompleteAsync();

        (await process.WaitAsync().WaitAsync(Limit)).Should().Be(0);
        await copy.WaitAsync(Limit);
        received.ToArray().Should().Equal(payload);
        await container.RemoveAsync();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Stderr_is_kept_apart_from_stdout(bool streaming)
    {
        await using var container = await CreateAsync(streaming, "sh", "-c", "echo out1; echo err1 >&2; echo out2; echo err2 >&2; exit 1");
        var stdout = ReadAllAsync(container.InitProcess.Stdout);
        var stderr = ReadAllAsync(container.InitProcess.Stderr);
        await container.StartAsync();

        (await container.InitProcess.WaitAsync().WaitAsync(Limit)).Should().Be(1);
        (await stdout.WaitAsync(Limit)).Should().Be("out1\nout2\n");
        (await stderr.WaitAsync(Limit)).Should().Be("err1\nerr2\n");
        await container.RemoveAsync();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Exec_runs_in_the_running_container_and_a_signal_ends_its_init_with_128_plus_N(bool streaming)
    {
        await using var container = await CreateAsync(streaming, "sleep", "300");
        await container.StartAsync();

        var exec = new Process { Args = { "sh", "-c", "hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo; read line; echo got:$line >&2; exit 4" }, Env = { "PATH=/bin" }, Cwd = "/" };
        await using var probe = await container.ExecAsync("probe", exec);
        probe.ExecId.Should().Be("probe");
        var stdout = ReadAllAsync(probe.Stdout);
        var stderr = ReadAllAsync(probe.Stderr);
        await using (probe.Stdin)
        {
            await probe.Stdin.WriteAsync(Encoding.UTF8.GetBytes("hello\n"));
        }

        (await probe.WaitAsync().WaitAsync(Limit)).Should().Be(4);
        (await stdout.WaitAsync(Limit)).Should().Be("container\nsleep 300 \n");
        (await stderr.WaitAsync(Limit)).Should().Be("got:hello\n");

        await container.InitProcess.SignalAsync(9);
        (await container.InitProcess.WaitAsync().WaitAsync(Limit)).Should().Be(128 + 9);
        await container.RemoveAsync();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_terminal_process_has_one_output_and_follows_resizes(bool streaming)
    {
        var spec = ContainerSpecs.Default(fixture.RootfsPath, ["sh", "-c", "tty; stty size; read line; stty size"]);
        spec.Process.Terminal = true;
        spec.Process.ConsoleSize = new Box { Height = 24, Width = 80 };
        await using var container = await Container.CreateAsync(fixture.Client, fixture.NewId("tty"), spec, Options(streaming));
        var process = container.InitProcess;
        var stdout = new OutputCollector(process.Stdout);
        await container.StartAsync();

        await stdout.WaitForAsync("24 80", Limit);
        await process.ResizeAsync(33, 101);
        await process.Stdin.WriteAsync(Encoding.UTF8.GetBytes("\n"));

        (await process.WaitAsync().WaitAsync(Limit)).Should().Be(0);
        string text = await stdout.Completion.WaitAsync(Limit);
        text.Should().StartWith("/dev/pts/0\r\n24 80\r\n").And.EndWith("33 101\r\n");
        (await ReadAllAsync(process.Stderr).WaitAsync(Limit)).Should().BeEmpty("a terminal has one output");
        await container.RemoveAsync();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Resizing_a_process_without_a_terminal_is_refused(bool streaming)
    {
        await using var container = await CreateAsync(streaming, "sleep", "300");
        await container.StartAsync();

        var resize = async () => await container.InitProcess.ResizeAsync(10, 10);

        (await resize.Should().ThrowAsync<AgentStatusException>()).Which.Detail.Should().Contain("terminal");
        await container.RemoveAsync();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Output_written_before_anyone_reads_is_not_lost(bool streaming)
    {
        var options = new ContainerOptions { UseStreaming = streaming, AttachStdio = false };
        await using var container = await Container.CreateAsync(fixture.Client, fixture.NewId("late"), ContainerSpecs.Default(fixture.RootfsPath, ["sh", "-c", "seq 1 20000; echo done >&2"]), options);
        await container.StartAsync();

        (await container.InitProcess.WaitAsync().WaitAsync(Limit)).Should().Be(0);
        string stdout = await ReadAllAsync(container.InitProcess.Stdout).WaitAsync(Limit);
        stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Should().HaveCount(20000).And.EndWith("20000");
        (await ReadAllAsync(container.InitProcess.Stderr).WaitAsync(Limit)).Should().Be("done\n");
        await container.RemoveAsync();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Streams_of_a_removed_container_end_and_its_status_stays_known(bool streaming)
    {
        var options = new ContainerOptions { UseStreaming = streaming, AttachStdio = false };
        await using var container = await Container.CreateAsync(fixture.Client, fixture.NewId("gone"), ContainerSpecs.Default(fixture.RootfsPath, ["sh", "-c", "echo unread; exit 9"]), options);
        await container.StartAsync();
        (await container.InitProcess.WaitAsync().WaitAsync(Limit)).Should().Be(9);

        await container.RemoveAsync();

        (await ReadAllAsync(container.InitProcess.Stdout).WaitAsync(Limit)).Should().BeEmpty("the agent dropped the output with the container");
        (await container.InitProcess.WaitAsync().WaitAsync(Limit)).Should().Be(9, "the status was taken when the process started");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Writing_to_a_process_that_has_exited_is_an_IOException(bool streaming)
    {
        await using var container = await CreateAsync(streaming, "true");
        await container.StartAsync();
        (await container.InitProcess.WaitAsync().WaitAsync(Limit)).Should().Be(0);
        await ReadAllAsync(container.InitProcess.Stdout).WaitAsync(Limit);

        var write = async () => await container.InitProcess.Stdin.WriteAsync(new byte[16]);

        await write.Should().ThrowAsync<IOException>();
        await container.RemoveAsync();
    }

    [Fact]
    public async Task Stats_pause_resume_and_update_reach_the_container_cgroup()
    {
        await using var container = await CreateAsync(true, "sleep", "300");
        await container.StartAsync();
        StatsContainerResponse stats;
        try
        {
            stats = await container.StatsAsync();
        }
        catch (AgentStatusException e) when (e.StatusCode == AgentStatusCode.FailedPrecondition)
        {
            // No cgroup2 hierarchy on this host: the agent says so; nothing more to check here.
            e.Detail.Should().Contain("cgroup");
            return;
        }
        stats.CgroupStats.Should().NotBeNull();

        await container.PauseAsync();
        var pausedAgain = async () => await container.PauseAsync();
        (await pausedAgain.Should().ThrowAsync<AgentStatusException>()).Which.StatusCode.Should().Be(AgentStatusCode.FailedPrecondition);
        await container.ResumeAsync();
        try
        {
            await container.UpdateAsync(new LinuxResources { Pids = new LinuxPids { Limit = 50 } });
        }
        catch (AgentStatusException e) when (e.StatusCode == AgentStatusCode.FailedPrecondition)
        {
            // The pids controller is not enabled for this host's cgroup: the request still reached the container's cgroup.
            e.Detail.Should().Contain("pids");
        }
        await container.RemoveAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task DisposeAsync_lets_go_of_the_handle_and_leaves_the_container_and_RemoveAsync_removes_it()
    {
        string id;
        await using (var container = await CreateAsync(true, "sleep", "300"))
        {
            id = container.Id;
            await container.StartAsync();
        }

        // Still there: a handle on it can exec into it.
        await using var handle = await Container.OpenAsync(fixture.Client, id, Options(true));
        var probe = await handle.ExecAsync(new Process { Args = { "true" }, Cwd = "/" });
        (await probe.WaitAsync().WaitAsync(Limit)).Should().Be(0, "disposing the creating handle did not remove the container");

        await handle.RemoveAsync();

        var wait = async () => await fixture.Client.WaitProcessAsync(new WaitProcessRequest { ContainerId = id });
        (await wait.Should().ThrowAsync<AgentStatusException>()).Which.StatusCode.Should().Be(AgentStatusCode.NotFound);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_handle_from_OpenAsync_execs_into_a_container_created_elsewhere(bool streaming)
    {
        await using var owner = await CreateAsync(true, "sleep", "300");
        await owner.StartAsync();

        await using (var handle = await Container.OpenAsync(fixture.Client, owner.Id, Options(streaming)))
        {
            var process = await handle.ExecAsync(new Process { Args = { "sh", "-c", "echo $0-$1", "a", "b" }, Cwd = "/" });
            process.ExecId.Should().StartWith("exec-");
            (await process.WaitAsync().WaitAsync(Limit)).Should().Be(0);
            (await ReadAllAsync(process.Stdout).WaitAsync(Limit)).Should().Be("a-b\n");
        }

        // Disposing the handle left the container alone.
        var again = await owner.ExecAsync(new Process { Args = { "true" }, Cwd = "/" });
        (await again.WaitAsync().WaitAsync(Limit)).Should().Be(0);
        await owner.RemoveAsync();
    }

    [Fact]
    public async Task Create_failures_are_the_agents_RpcException()
    {
        var create = async () => await Container.CreateAsync(fixture.Client, "bad/id", ContainerSpecs.Default(fixture.RootfsPath, ["true"]));

        (await create.Should().ThrowAsync<AgentStatusException>()).Which.StatusCode.Should().Be(AgentStatusCode.InvalidArgument);
    }

    private static async Task<string> ReadAllAsync(Stream stream)
    {
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return await reader.ReadToEndAsync();
    }
}
