using FluentAssertions;
using Grpc.Core;
using KataAgent.Host;
using KataAgent.Host.Sandboxes;
using KataAgent.Protocols.Agent;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Containers;

/// <summary>
/// CreateSandbox / DestroySandbox. They use fixed guest paths (/run/sandbox-ns,
/// /run/kata-containers/sandbox), so these tests run one after another in one class.
/// </summary>
[Collection(HostMountTableCollection.Name)]
public class SandboxTests
{
    private const string Shm = "/run/kata-containers/sandbox/test-shm";
    private const string Local = "/run/kata-containers/sandbox/test-local";

    [Fact]
    public async Task Sandbox_shares_hostname_ipc_and_pid_namespaces_and_destroy_leaves_nothing_behind()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        string mountsBefore = HostMountTable.ReadWithoutNetns();
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();

        var request = new CreateSandboxRequest { Hostname = "pod-1", SandboxId = "sb1", SandboxPidns = true, Dns = { "nameserver 192.0.2.53", "search example.test" } };
        request.Storages.Add(new Storage { Driver = "ephemeral", Source = "shm", Fstype = "tmpfs", Options = { "size=1m", "mode=1777" }, MountPoint = Shm });
        request.Storages.Add(new Storage { Driver = "local", Options = { "mode=0750" }, MountPoint = Local });
        await client.CreateSandboxAsync(request);

        File.ReadAllText("/run/kata-containers/sandbox/resolv.conf").Should().Be("nameserver 192.0.2.53\nsearch example.test\n");
        File.ReadAllText("/proc/self/mountinfo").Should().Contain($" {Shm} ");
        (File.GetUnixFileMode(Local) & (UnixFileMode)0x1FF).Should().Be((UnixFileMode)Convert.ToInt32("750", 8));

        var again = async () => await client.CreateSandboxAsync(new CreateSandboxRequest { Hostname = "x" });
        (await again.Should().ThrowAsync<AgentStatusException>()).Which.StatusCode.Should().Be(AgentStatusCode.AlreadyExists);

        // The spec's own hostname yields to the sandbox's, as in Kata.
        await client.CreateContainerAsync(new CreateContainerRequest { ContainerId = "a", OCI = ContainerSpecs.Default(rootfs.Path, ["sleep", "300"]) });
        await client.StartContainerAsync(new StartContainerRequest { ContainerId = "a" });
        var probe = ContainerSpecs.Default(rootfs.Path, ["sh", "-c", "hostname; pid=$(pidof sleep); echo $pid; [ \"$(readlink /proc/self/ns/ipc)\" = \"$(readlink /proc/$pid/ns/ipc)\" ] && echo same-ipc; readlink /proc/self/ns/ipc; cat /proc/1/cmdline | tr '\\0' ' '"]);
        string output = await ContainerIsolationTests.RunToCompletionAsync(client, "b", probe, expectedStatus: 0);
        var lines = output.Split('\n');
        lines[0].Should().Be("pod-1");
        lines[1].Should().MatchRegex("^[0-9]+$", "container a's sleep is visible from b: shared PID namespace");
        lines[2].Should().Be("same-ipc", "a and b share the sandbox's IPC namespace");
        lines[3].Should().NotBe(new FileInfo("/proc/self/ns/ipc").LinkTarget, "the sandbox's IPC namespace is not the host's");
        lines[4].Should().Contain("pause", "PID 1 of the shared PID namespace is the sandbox's pause process");

        await client.DestroySandboxAsync(new DestroySandboxRequest());
        var gone = async () => await client.WaitProcessAsync(new WaitProcessRequest { ContainerId = "a" });
        (await gone.Should().ThrowAsync<AgentStatusException>()).Which.StatusCode.Should().Be(AgentStatusCode.NotFound);
        HostMountTable.ReadWithoutNetns().Should().Be(mountsBefore);
        File.Exists("/run/sandbox-ns/uts").Should().BeFalse();
        (await client.CheckAsync()).Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving, "the agent keeps running after DestroySandbox when it is not PID 1");

        // A new sandbox can be made after the old one is gone.
        await client.CreateSandboxAsync(new CreateSandboxRequest { Hostname = "pod-2" });
        await client.DestroySandboxAsync(new DestroySandboxRequest());
    }

    [Theory]
    [InlineData("nfs", Shm, "storages[0].driver")]
    [InlineData("ephemeral", "/etc/evil", "storages[0].mount_point")]
    [InlineData("ephemeral", "/run/kata-containers/../../etc", "storages[0].mount_point")]
    public async Task Bad_storages_are_refused_before_anything_is_mounted(string driver, string mountPoint, string field)
    {
        string mountsBefore = HostMountTable.ReadWithoutNetns();
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        var request = new CreateSandboxRequest { Hostname = "pod" };
        request.Storages.Add(new Storage { Driver = driver, Fstype = "tmpfs", MountPoint = mountPoint });

        var create = async () => await client.CreateSandboxAsync(request);
        var error = (await create.Should().ThrowAsync<AgentStatusException>()).Which;
        error.StatusCode.Should().Be(AgentStatusCode.InvalidArgument);
        error.Detail.Should().StartWith(field);
        HostMountTable.ReadWithoutNetns().Should().Be(mountsBefore);
        File.Exists("/run/sandbox-ns/uts").Should().BeFalse();
    }
}
