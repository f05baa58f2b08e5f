using FluentAssertions;
using KataAgent.Host;
using KataAgent.Host.Sandboxes;
using KataAgent.Protocols.Agent;
using KataAgent.Testing;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Agent.Diagnostics;

/// <summary>GetDiagnosticData through the published agent: a container's termination log, mounted from the guest or in its own root.</summary>
public sealed class DiagnosticDataTests
{
    [Fact]
    public async Task The_termination_log_a_container_wrote_is_read_back_after_it_exits_and_bad_requests_name_the_field()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        // Where Kata's runtime puts a container's files when no file system is shared (CopyFile's tree).
        string shared = $"/run/kata-containers/shared/containers/diag-{Guid.NewGuid():N}";
        Directory.CreateDirectory(shared);
        string log = Path.Combine(shared, "termination-log");
        await File.WriteAllTextAsync(log, "");
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();

        var spec = ContainerSpecs.Default(rootfs.Path, ["sh", "-c", "echo 'disk full on /data' > /dev/termination-log; head -c 5000 /dev/zero | tr '\\0' x >> /dev/termination-log; exit 1"]);
        spec.Mounts.Add(new Mount { Destination = "/dev/termination-log", Type = "bind", Source = log, Options = { "rbind", "rw" } });
        await client.CreateContainerAsync(new CreateContainerRequest { ContainerId = "job", OCI = spec });
        await client.StartContainerAsync(new StartContainerRequest { ContainerId = "job" });
        (await client.WaitProcessAsync(new WaitProcessRequest { ContainerId = "job" })).Status.Should().Be(1, agent.Output);

        var data = await client.GetDiagnosticDataAsync(new GetDiagnosticDataRequest { LogType = "termination_log", ContainerId = "job" });
        data.Data.Should().StartWith("disk full on /data\nxxx");
        data.Data.Length.Should().Be(4096, "kubelet reads at most 4096 bytes of a termination message");

        async Task Refused(GetDiagnosticDataRequest request, AgentStatusCode code, string detail)
        {
            var call = async () => await client.GetDiagnosticDataAsync(request);
            var error = (await call.Should().ThrowAsync<AgentStatusException>()).Which;
            error.StatusCode.Should().Be(code, error.Detail);
            error.Detail.Should().StartWith(detail);
        }

        await Refused(new GetDiagnosticDataRequest { LogType = "kernel", ContainerId = "job" }, AgentStatusCode.InvalidArgument, "log_type: \"kernel\" is not a diagnostic this agent has");
        await Refused(new GetDiagnosticDataRequest { LogType = "termination_log", ContainerId = "nope" }, AgentStatusCode.NotFound, "container_id:");
        await client.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = "job", Timeout = 10 });
        Directory.Delete(shared, recursive: true);
    }

    [Fact]
    public async Task Without_a_mount_the_log_is_read_in_the_running_container_s_own_root_at_its_annotated_path()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        var spec = ContainerSpecs.Default(rootfs.Path, ["sh", "-c", "echo bye > /tmp/why; touch /tmp/ready; sleep 300"]);
        spec.Annotations["io.kubernetes.container.terminationMessagePath"] = "/tmp/why";
        await client.CreateContainerAsync(new CreateContainerRequest { ContainerId = "svc", OCI = spec });
        await client.StartContainerAsync(new StartContainerRequest { ContainerId = "svc" });

        var request = new GetDiagnosticDataRequest { LogType = "termination_log", ContainerId = "svc" };
        var deadline = DateTime.UtcNow.AddSeconds(10);
        string data;
        while ((data = (await client.GetDiagnosticDataAsync(request)).Data) == "" && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }
        data.Should().Be("bye\n");

        await client.SignalProcessAsync(new SignalProcessRequest { ContainerId = "svc", Signal = 9 });
        await client.WaitProcessAsync(new WaitProcessRequest { ContainerId = "svc" });
        var gone = async () => await client.GetDiagnosticDataAsync(request);
        (await gone.Should().ThrowAsync<AgentStatusException>()).Which.StatusCode.Should().Be(AgentStatusCode.NotFound, "the file went with the container's root, and nothing outside had it");
        await client.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = "svc", Timeout = 10 });
    }

    [Fact]
    public async Task A_termination_log_that_is_a_link_is_not_followed_out_of_the_container()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        // An absolute link read through /proc/PID/root would resolve in the agent's root: the guest's own files.
        var spec = ContainerSpecs.Default(rootfs.Path, ["sh", "-c", "ln -s /proc/self/environ /tmp/why; mkfifo /tmp/fifo; touch /tmp/ready; sleep 300"]);
        spec.Annotations["io.kubernetes.container.terminationMessagePath"] = "/tmp/why";
        await client.CreateContainerAsync(new CreateContainerRequest { ContainerId = "sly", OCI = spec });
        await client.StartContainerAsync(new StartContainerRequest { ContainerId = "sly" });
        var request = new GetDiagnosticDataRequest { LogType = "termination_log", ContainerId = "sly" };

        AgentStatusException? error = null;
        for (var deadline = DateTime.UtcNow.AddSeconds(10); error is null && DateTime.UtcNow < deadline; await Task.Delay(50))
        {
            try
            {
                (await client.GetDiagnosticDataAsync(request)).Data.Should().BeEmpty("until the link exists the file is missing");
            }
            catch (AgentStatusException e)
            {
                error = e;
            }
        }
        error.Should().NotBeNull();
        error!.StatusCode.Should().Be(AgentStatusCode.FailedPrecondition, error.Detail);
        error.Detail.Should().Be("container_id: container 'sly': termination log /tmp/why is a symbolic link, passes through one, or is not a regular file; it is not followed");

        await client.SignalProcessAsync(new SignalProcessRequest { ContainerId = "sly", Signal = 9 });
        await client.WaitProcessAsync(new WaitProcessRequest { ContainerId = "sly" });
        await client.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = "sly", Timeout = 10 });
    }
}
