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

    [Fact]
    public async Task The_pods_pid_namespace_is_a_pause_processes_started_for_the_first_container_that_asks_and_it_outlives_them_all()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        // As our shim creates a pod: CreateSandbox cannot know Kubernetes' shareProcessNamespace (CRI's sandbox spec is
        // the same either way), so the containers ask, as CRI's /proc/<pid>/ns/pid paths tell the shim to.
        await client.CreateSandboxAsync(new CreateSandboxRequest { Hostname = "pid-pod", SandboxId = "pidpod" });
        bool destroyed = false;
        try
        {
            // a leaves an orphan behind (its subshell exits at once), then becomes sleep 301.
            await client.CreateContainerAsync(new CreateContainerRequest { ContainerId = "a", OCI = ContainerSpecs.Default(rootfs.Path, ["sh", "-c", "(sleep 303 >/dev/null 2>&1 &); exec sleep 301"]), SandboxPidns = true });
            await client.StartContainerAsync(new StartContainerRequest { ContainerId = "a" });
            await client.CreateContainerAsync(new CreateContainerRequest { ContainerId = "b", OCI = ContainerSpecs.Default(rootfs.Path, ["sleep", "302"]), SandboxPidns = true });
            await client.StartContainerAsync(new StartContainerRequest { ContainerId = "b" });

            string see = "tr '\\0' ' ' < /proc/1/cmdline; echo; for p in $(pidof sleep); do tr '\\0' ' ' < /proc/$p/cmdline; echo; done | sort; readlink /proc/self/ns/pid";
            var seen = (await RunSharedAsync("look", see)).Split('\n');
            seen[0].Should().EndWith("pause ", "PID 1 of the pod's PID namespace is the pause process, not the first container");
            seen[1..4].Should().Equal(["sleep 301 ", "sleep 302 ", "sleep 303 "], "each container sees the other's processes");
            string podNamespace = seen[4];

            // A container that does not ask gets a PID namespace of its own: the pause is not everyone's.
            (await ContainerIsolationTests.RunToCompletionAsync(client, "own", ContainerSpecs.Default(rootfs.Path, ["sh", "-c", "echo $$; pidof sleep || echo none"]), expectedStatus: 0))
                .Should().Be("1\nnone\n");

            // The orphan is the pause's child, and once it dies the pause reaps it: no zombie is left.
            string find = "for d in /proc/[0-9]*; do [ \"$(tr '\\0' ' ' < $d/cmdline 2>/dev/null)\" = 'sleep 303 ' ] && o=${d#/proc/}; done";
            string reaped = await RunSharedAsync("reaper", find + "; grep PPid /proc/$o/status; kill $o; i=0; while [ -e /proc/$o ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; [ -e /proc/$o ] && grep State /proc/$o/status || echo reaped");
            reaped.Should().Be("PPid:\t1\nreaped\n");

            // One container's end is not the pod's: the other keeps running in the same namespace.
            await client.SignalProcessAsync(new SignalProcessRequest { ContainerId = "a", Signal = 9 });
            (await client.WaitProcessAsync(new WaitProcessRequest { ContainerId = "a" })).Status.Should().Be(137);
            await client.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = "a", Timeout = 10 });
            var after = (await RunSharedAsync("after", see)).Split('\n');
            after[0].Should().EndWith("pause ");
            after[1..3].Should().Equal(["sleep 302 ", podNamespace]);

            // The namespace lives until the sandbox goes, and nothing of it is left then.
            await client.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = "b", Timeout = 10 });
            ProcessesIn(podNamespace).Should().ContainSingle("the pause process holds the namespace with no container left");
            await client.DestroySandboxAsync(new DestroySandboxRequest());
            destroyed = true;
            ProcessesIn(podNamespace).Should().BeEmpty("DestroySandbox ends the pause process");
        }
        finally
        {
            if (!destroyed)
            {
                await client.DestroySandboxAsync(new DestroySandboxRequest());
            }
        }

        async Task<string> RunSharedAsync(string id, string script)
        {
            await client.CreateContainerAsync(new CreateContainerRequest { ContainerId = id, OCI = ContainerSpecs.Default(rootfs.Path, ["sh", "-c", script]), SandboxPidns = true });
            await client.StartContainerAsync(new StartContainerRequest { ContainerId = id });
            int status = (await client.WaitProcessAsync(new WaitProcessRequest { ContainerId = id })).Status;
            string output = await ContainerLifecycleTests.ReadAllAsync(client, id, "", stderr: false);
            string errors = await ContainerLifecycleTests.ReadAllAsync(client, id, "", stderr: true);
            await client.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = id, Timeout = 10 });
            status.Should().Be(0, errors);
            return output;
        }
    }

    /// <summary>Host processes in the PID namespace <paramref name="link"/> (as /proc/PID/ns/pid reads, "pid:[…]").</summary>
    private static List<int> ProcessesIn(string link)
    {
        var found = new List<int>();
        foreach (string entry in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(entry), out int pid))
            {
                try
                {
                    if (new FileInfo(Path.Combine(entry, "ns", "pid")).LinkTarget == link)
                    {
                        found.Add(pid);
                    }
                }
                catch (IOException)
                {
                    // Gone while we looked.
                }
                catch (UnauthorizedAccessException)
                {
                }
            }
        }
        return found;
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
