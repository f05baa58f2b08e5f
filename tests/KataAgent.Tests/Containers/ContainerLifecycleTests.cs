using System.Text;
using FluentAssertions;
using Google.Protobuf;
using Grpc.Core;
using KataAgent.Host;
using KataAgent.Host.Sandboxes;
using KataAgent.Protocols.Agent;
using KataAgent.Rootfs.Elf;
using KataAgent.Testing;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Containers;

/// <summary>Containers created by the published agent (as root, stand-alone) from a busybox rootfs.</summary>
public class ContainerLifecycleTests
{
    [Fact]
    public async Task Shell_runs_as_pid_1_with_its_hostname_and_every_byte_of_output_survives_its_exit()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        var spec = ContainerSpecs.Default(rootfs.Path, ["sh", "-c", "echo pid=$$; hostname; seq 1 20000 | wc -l; echo oops >&2; exit 3"]);

        await client.CreateContainerAsync(new CreateContainerRequest { ContainerId = "c1", OCI = spec });
        await client.StartContainerAsync(new StartContainerRequest { ContainerId = "c1" });
        var status = await client.WaitProcessAsync(new WaitProcessRequest { ContainerId = "c1" });
        status.Status.Should().Be(3, agent.Output);

        string stdout = await ReadAllAsync(client, "c1", "", stderr: false);
        stdout.Should().Be("pid=1\ncontainer\n20000\n");
        (await ReadAllAsync(client, "c1", "", stderr: true)).Should().Be("oops\n");

        await client.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = "c1", Timeout = 10 });
        var again = async () => await client.WaitProcessAsync(new WaitProcessRequest { ContainerId = "c1" });
        (await again.Should().ThrowAsync<AgentStatusException>()).Which.StatusCode.Should().Be(AgentStatusCode.NotFound);
    }

    [Fact]
    public async Task Exec_joins_the_running_container_and_signals_reach_it()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        var spec = ContainerSpecs.Default(rootfs.Path, ["sleep", "300"]);
        await client.CreateContainerAsync(new CreateContainerRequest { ContainerId = "web", OCI = spec });
        await client.StartContainerAsync(new StartContainerRequest { ContainerId = "web" });

        var exec = new Process { Args = { "sh", "-c", "hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo; read line; echo got:$line" }, Env = { "PATH=/bin" }, Cwd = "/" };
        await client.ExecProcessAsync(new ExecProcessRequest { ContainerId = "web", ExecId = "probe", Process = exec });
        await client.WriteStdinAsync(new WriteStreamRequest { ContainerId = "web", ExecId = "probe", Data = ByteString.CopyFromUtf8("hello\n") });
        await client.CloseStdinAsync(new CloseStdinRequest { ContainerId = "web", ExecId = "probe" });
        (await client.WaitProcessAsync(new WaitProcessRequest { ContainerId = "web", ExecId = "probe" })).Status.Should().Be(0);
        (await ReadAllAsync(client, "web", "probe", stderr: false)).Should().Be("container\nsleep 300 \ngot:hello\n");

        await client.SignalProcessAsync(new SignalProcessRequest { ContainerId = "web", Signal = 9 });
        (await client.WaitProcessAsync(new WaitProcessRequest { ContainerId = "web" })).Status.Should().Be(128 + 9);
        var late = async () => await client.SignalProcessAsync(new SignalProcessRequest { ContainerId = "web", ExecId = "probe", Signal = 15 });
        (await late.Should().ThrowAsync<AgentStatusException>()).Which.StatusCode.Should().Be(AgentStatusCode.FailedPrecondition);
        await client.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = "web" });
    }

    [Fact]
    public async Task A_container_whose_process_is_proc_self_exe_pause_runs_the_helpers_pause_from_its_sealed_memfd()
    {
        // What a guest pull's sandbox container runs (GuestPullSandbox): its rootfs is the guest image's root, with no
        // pause binary but with the loader and libraries kata-agent-init needs (kata-rootfs copies them): so is this one.
        using var rootfs = await BusyboxRootfs.CreateAsync();
        foreach (var library in new ElfDependencies().Resolve(RepoPaths.InitHelperBinary))
        {
            string target = rootfs.Path + library.Path;
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(library.HostPath, target, overwrite: true);
        }
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        var spec = ContainerSpecs.Default(rootfs.Path, ["/proc/self/exe", "pause"]);
        await client.CreateContainerAsync(new CreateContainerRequest { ContainerId = "pause", OCI = spec });
        await client.StartContainerAsync(new StartContainerRequest { ContainerId = "pause" });

        var probe = new Process { Args = { "sh", "-c", "tr '\\0' ' ' </proc/1/cmdline; echo; readlink /proc/1/exe; if echo x >>/proc/1/exe; then echo written; fi" }, Env = { "PATH=/bin" }, Cwd = "/" };
        var (status, stdout, stderr) = await ContainerRun.ExecAsync(client, "pause", "probe", probe);

        status.Should().Be(0, stderr);
        var lines = stdout.Split('\n');
        lines[0].Should().Be("/proc/self/exe pause ");
        lines[1].Should().StartWith("/memfd:kata-agent-init", "the container's init ran from the helper's sealed memfd and exec'd it again");
        stdout.Should().NotContain("written");
        stderr.Should().Contain("Text file busy", "a running sealed helper cannot be opened for write from the container");
        await client.SignalProcessAsync(new SignalProcessRequest { ContainerId = "pause", Signal = 9 });
        (await client.WaitProcessAsync(new WaitProcessRequest { ContainerId = "pause" })).Status.Should().Be(128 + 9, "the pause mode waits until it is killed");
        await client.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = "pause" });
    }

    [Fact]
    public async Task Bad_requests_are_refused_with_the_field_and_nothing_is_left_behind()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();

        async Task Expect(CreateContainerRequest request, AgentStatusCode code, string detail)
        {
            var create = async () => await client.CreateContainerAsync(request);
            var error = (await create.Should().ThrowAsync<AgentStatusException>()).Which;
            error.StatusCode.Should().Be(code, error.Detail);
            error.Detail.Should().Contain(detail);
        }

        await Expect(new CreateContainerRequest { ContainerId = "../escape", OCI = ContainerSpecs.Default(rootfs.Path, ["true"]) }, AgentStatusCode.InvalidArgument, "container_id:");
        await Expect(new CreateContainerRequest { ContainerId = new string('a', 200), OCI = ContainerSpecs.Default(rootfs.Path, ["true"]) }, AgentStatusCode.InvalidArgument, "container_id:");
        await Expect(new CreateContainerRequest { ContainerId = "c", OCI = ContainerSpecs.Default("/nonexistent/rootfs", ["true"]) }, AgentStatusCode.InvalidArgument, "OCI.Root.Path");
        await Expect(new CreateContainerRequest { ContainerId = "c", OCI = ContainerSpecs.Default("../../etc", ["true"]) }, AgentStatusCode.InvalidArgument, "escapes the bundle");

        var relative = ContainerSpecs.Default(rootfs.Path, ["true"]);
        relative.Mounts.Add(new Mount { Destination = "tmp", Type = "tmpfs", Source = "tmpfs" });
        await Expect(new CreateContainerRequest { ContainerId = "c", OCI = relative }, AgentStatusCode.InvalidArgument, "OCI.Mounts[6].destination");

        var unknownNs = ContainerSpecs.Default(rootfs.Path, ["true"]);
        unknownNs.Linux.Namespaces.Add(new LinuxNamespace { Type = "bogus" });
        await Expect(new CreateContainerRequest { ContainerId = "c", OCI = unknownNs }, AgentStatusCode.InvalidArgument, "OCI.Linux.Namespaces[4].Type");

        var badCap = ContainerSpecs.Default(rootfs.Path, ["true"]);
        badCap.Process.Capabilities.Bounding.Add("CAP_FLY");
        await Expect(new CreateContainerRequest { ContainerId = "c", OCI = badCap }, AgentStatusCode.InvalidArgument, "CAP_FLY");

        var missingProgram = ContainerSpecs.Default(rootfs.Path, ["/bin/does-not-exist"]);
        await client.CreateContainerAsync(new CreateContainerRequest { ContainerId = "c", OCI = missingProgram });
        var start = async () => await client.StartContainerAsync(new StartContainerRequest { ContainerId = "c" });
        (await start.Should().ThrowAsync<AgentStatusException>()).Which.Detail.Should().Contain("does-not-exist");
        await client.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = "c", Timeout = 10 });

        await client.CreateContainerAsync(new CreateContainerRequest { ContainerId = "dup", OCI = ContainerSpecs.Default(rootfs.Path, ["sleep", "60"]) });
        await Expect(new CreateContainerRequest { ContainerId = "dup", OCI = ContainerSpecs.Default(rootfs.Path, ["true"]) }, AgentStatusCode.AlreadyExists, "dup");
        var unknownExec = async () => await client.WaitProcessAsync(new WaitProcessRequest { ContainerId = "dup", ExecId = "nope" });
        (await unknownExec.Should().ThrowAsync<AgentStatusException>()).Which.StatusCode.Should().Be(AgentStatusCode.NotFound);
        await client.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = "dup", Timeout = 10 });
        (await client.CheckAsync()).Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);
    }

    internal static async Task<string> ReadAllAsync(AgentClient client, string containerId, string execId, bool stderr)
    {
        var text = new StringBuilder();
        while (true)
        {
            var request = new ReadStreamRequest { ContainerId = containerId, ExecId = execId, Len = 4096 };
            var chunk = stderr ? await client.ReadStderrAsync(request) : await client.ReadStdoutAsync(request);
            if (chunk.Data.IsEmpty)
            {
                return text.ToString();
            }
            text.Append(chunk.Data.ToStringUtf8());
        }
    }
}
