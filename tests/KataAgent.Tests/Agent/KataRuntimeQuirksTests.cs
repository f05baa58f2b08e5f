using FluentAssertions;
using KataAgent.Host;
using KataAgent.Host.Sandboxes;
using KataAgent.Protocols.Agent;
using KataAgent.Tests.Containers;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Agent;

/// <summary>
/// CreateContainer as Kata's runtime sends it (virtcontainers kata_agent.go: constrainGRPCSpec, handlePidNamespace)
/// and as Kata's agent takes it (rpc.rs: do_create_container, update_container_namespaces; sandbox.rs:
/// update_shared_pidns), through the published agent.
/// </summary>
[Collection(HostMountTableCollection.Name)]
public class KataRuntimeQuirksTests
{
    [Fact]
    public async Task A_spec_without_a_pid_namespace_still_gets_one_and_never_the_agents()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        var spec = WithoutPidNamespace(ContainerSpecs.Default(rootfs.Path, ["sh", "-c", "echo $$; readlink /proc/self/ns/pid"]));

        var (status, stdout, stderr) = await ContainerRun.RunAsync(client, "nopid", spec);

        status.Should().Be(0, stderr);
        var lines = stdout.Split('\n');
        lines[0].Should().Be("1", "the container's init is PID 1 of a PID namespace of its own");
        lines[1].Should().NotBe(new FileInfo($"/proc/{agent.ProcessId}/ns/pid").LinkTarget);
    }

    [Fact]
    public async Task Sandbox_pidns_joins_the_first_containers_namespace_and_is_refused_once_it_is_gone()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        // The pause container comes first, without sandbox_pidns: its PID namespace becomes the sandbox's.
        await client.CreateContainerAsync(new CreateContainerRequest { ContainerId = "infra", OCI = WithoutPidNamespace(ContainerSpecs.Default(rootfs.Path, ["sleep", "300"])) });
        await client.StartContainerAsync(new StartContainerRequest { ContainerId = "infra" });

        string probe = "echo $$; cat /proc/1/cmdline | tr '\\0' ' '";
        (await RunAsync(client, "joined", WithoutPidNamespace(ContainerSpecs.Default(rootfs.Path, ["sh", "-c", probe])), sandboxPidns: true))
            .Should().MatchRegex("^[0-9]+\nsleep 300 $", "with sandbox_pidns the workload runs in the infra container's PID namespace");
        (await RunAsync(client, "alone", WithoutPidNamespace(ContainerSpecs.Default(rootfs.Path, ["sh", "-c", probe])), sandboxPidns: false))
            .Should().StartWith("1\nsh -c", "without it, a PID namespace of its own");

        // A host path in the spec's pid namespace means "the sandbox's" too (Kata's agent ignores the path).
        var hostPath = ContainerSpecs.Default(rootfs.Path, ["sh", "-c", probe]);
        hostPath.Linux.Namespaces.Single(n => n.Type == "pid").Path = "/proc/4242424/ns/pid";
        (await RunAsync(client, "hostpath", hostPath, sandboxPidns: true)).Should().EndWith("sleep 300 ");

        // Once the infra container is gone while others remain, there is nothing to join: refused as Kata refuses it.
        await client.CreateContainerAsync(new CreateContainerRequest { ContainerId = "other", OCI = WithoutPidNamespace(ContainerSpecs.Default(rootfs.Path, ["sleep", "300"])) });
        await client.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = "infra", Timeout = 10 });
        var orphan = async () => await client.CreateContainerAsync(new CreateContainerRequest { ContainerId = "orphan", OCI = WithoutPidNamespace(ContainerSpecs.Default(rootfs.Path, ["true"])), SandboxPidns = true });
        var error = (await orphan.Should().ThrowAsync<AgentStatusException>()).Which;
        error.StatusCode.Should().Be(AgentStatusCode.FailedPrecondition);
        error.Detail.Should().StartWith("sandbox_pidns:");
        await client.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = "other", Timeout = 10 });
    }

    [Fact]
    public async Task Storages_are_mounted_before_the_spec_mounts_that_take_their_sources_from_them()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        string mountsBefore = HostMountTable.ReadWithoutNetns();
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        string unique = Guid.NewGuid().ToString("N");
        string ephemeral = $"/run/kata-containers/sandbox/ephemeral/quirk-{unique}";
        string local = $"/run/kata-containers/sandbox/local/quirk-{unique}";
        try
        {
            // An emptyDir of medium Memory (ephemeral) and one on disk (local), as Kata's runtime sends them: the
            // spec's bind mounts name the storages' mount points, which do not exist before the storages are handled.
            Directory.Exists(ephemeral).Should().BeFalse();
            var spec = ContainerSpecs.Default(rootfs.Path, ["sh", "-c", "echo m > /mem/f; echo d > /disk/f; grep -c ' /mem ' /proc/self/mountinfo"]);
            spec.Mounts.Add(new Mount { Destination = "/mem", Source = ephemeral, Type = "bind", Options = { "rbind", "rw" } });
            spec.Mounts.Add(new Mount { Destination = "/disk", Source = local, Type = "bind", Options = { "rbind", "rw" } });
            var request = new CreateContainerRequest { ContainerId = "volumes", OCI = spec };
            request.Storages.Add(new Storage { Driver = "ephemeral", Source = "tmpfs", Fstype = "tmpfs", Options = { "size=1m" }, MountPoint = ephemeral });
            request.Storages.Add(new Storage { Driver = "local", Source = "local", Options = { "mode=0777" }, MountPoint = local });
            await client.CreateContainerAsync(request);
            await client.StartContainerAsync(new StartContainerRequest { ContainerId = "volumes" });
            (await ContainerRun.WaitAsync(client, "volumes", "")).Should().Be(0, (await ContainerRun.ReadAllAsync(client, "volumes", "", stderr: true)).ToUtf8());
            (await ContainerRun.ReadAllAsync(client, "volumes", "", stderr: false)).ToUtf8().Should().Be("1\n");
            File.ReadAllText(Path.Combine(ephemeral, "f")).Should().Be("m\n");
            File.ReadAllText(Path.Combine(local, "f")).Should().Be("d\n");
            await client.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = "volumes", Timeout = 10 });

            // A bind source that no storage provides is still refused, naming the mount, and the storages of that
            // request are released again.
            var missing = ContainerSpecs.Default(rootfs.Path, ["true"]);
            missing.Mounts.Add(new Mount { Destination = "/x", Source = $"{ephemeral}-nowhere", Type = "bind", Options = { "rbind" } });
            var refused = new CreateContainerRequest { ContainerId = "missing", OCI = missing };
            refused.Storages.Add(new Storage { Driver = "ephemeral", Source = "tmpfs", Fstype = "tmpfs", MountPoint = ephemeral });
            var create = async () => await client.CreateContainerAsync(refused);
            var error = (await create.Should().ThrowAsync<AgentStatusException>()).Which;
            error.StatusCode.Should().Be(AgentStatusCode.InvalidArgument);
            error.Detail.Should().Be($"OCI.Mounts[{missing.Mounts.Count - 1}].source: bind source '{ephemeral}-nowhere' does not exist");
            HostMountTable.ReadWithoutNetns().Should().Be(mountsBefore);
        }
        finally
        {
            foreach (string directory in new[] { ephemeral, local })
            {
                if (Directory.Exists(directory))
                {
                    Directory.Delete(directory, recursive: true);
                }
            }
        }
    }

    /// <summary>The spec as Kata's runtime sends it: handlePidNamespace removed the pid namespace.</summary>
    private static Spec WithoutPidNamespace(Spec spec)
    {
        spec.Linux.Namespaces.Remove(spec.Linux.Namespaces.Single(n => n.Type == "pid"));
        return spec;
    }

    private static async Task<string> RunAsync(AgentClient client, string id, Spec spec, bool sandboxPidns)
    {
        await client.CreateContainerAsync(new CreateContainerRequest { ContainerId = id, OCI = spec, SandboxPidns = sandboxPidns });
        try
        {
            await client.StartContainerAsync(new StartContainerRequest { ContainerId = id });
            int status = await ContainerRun.WaitAsync(client, id, "");
            status.Should().Be(0, (await ContainerRun.ReadAllAsync(client, id, "", stderr: true)).ToUtf8());
            return (await ContainerRun.ReadAllAsync(client, id, "", stderr: false)).ToUtf8().TrimEnd('\n');
        }
        finally
        {
            await client.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = id, Timeout = 10 });
        }
    }
}
