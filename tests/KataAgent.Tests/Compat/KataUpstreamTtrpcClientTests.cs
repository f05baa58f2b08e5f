using System.Text;
using FluentAssertions;
using Grpc.Core;
using KataAgent.Tests.Infrastructure;
using Xunit;
using Upstream = KataUpstream.Grpc;

namespace KataAgent.Tests.Compat;

/// <summary>
/// What a Kata runtime does, over ttrpc, with a client generated from Kata Containers' own .proto files
/// (KataUpstream/): no code of the host library and none of our protos, only the bytes on the wire are shared. The
/// requests have the shape Kata's Go runtime gives them (constrainGRPCSpec, handlePidNamespace): no pid or network
/// namespace and no namespace paths in the spec, sandbox_pidns on the request, storages that the spec's bind
/// mounts take their sources from.
/// </summary>
[Collection(HostMountTableCollection.Name)]
public class KataUpstreamTtrpcClientTests
{
    [Fact]
    public async Task A_client_from_katas_protos_runs_a_container_over_ttrpc()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        await using var agent = AgentProcess.StartOnUnixSocket();
        await (await agent.ConnectAsync()).DisposeAsync(); // wait until it serves
        await using var ttrpc = await UnaryTtrpcCallInvoker.ConnectUnixAsync(agent.Address["unix://".Length..]);
        var health = new Upstream.Health.HealthClient(ttrpc);
        var service = new Upstream.AgentService.AgentServiceClient(ttrpc);
        // Kata's Go runtime gives Check 30 s and CreateContainer 60 s; ReadStdout and WaitProcess no deadline.
        (await health.CheckAsync(new Upstream.CheckRequest(), deadline: DateTime.UtcNow.AddSeconds(30))).Status
            .Should().Be(Upstream.HealthCheckResponse.Types.ServingStatus.Serving);
        (await health.VersionAsync(new Upstream.CheckRequest())).GrpcVersion.Should().Be("0.0.1");

        await service.CreateSandboxAsync(new Upstream.CreateSandboxRequest { Hostname = "kata-pod", SandboxId = "kata-sb", Dns = { "nameserver 192.0.2.53" } });
        string local = $"/run/kata-containers/sandbox/local/upstream-{Guid.NewGuid():N}";
        try
        {
            var details = await service.GetGuestDetailsAsync(new Upstream.GuestDetailsRequest { MemBlockSize = true });
            details.AgentDetails.StorageHandlers.Should().Contain("local");

            // The pause container first: no sandbox_pidns, so a PID namespace of its own, which becomes the sandbox's.
            await service.CreateContainerAsync(new Upstream.CreateContainerRequest { ContainerId = "kata-sb", OCI = KataSpec(rootfs.Path, ["sleep", "300"]) }, deadline: DateTime.UtcNow.AddSeconds(60));
            await service.StartContainerAsync(new Upstream.StartContainerRequest { ContainerId = "kata-sb" });

            // The workload: sandbox_pidns (its spec's pid namespace had a path on the host), and a disk emptyDir as
            // Kata sends it, a local storage whose mount point is the source of a bind mount in the spec.
            var spec = KataSpec(rootfs.Path, ["sh", "-c", "echo hello from $(hostname); cat /proc/1/cmdline | tr '\\0' ' '; echo; echo kept > /data/file"]);
            spec.Mounts.Add(new Upstream.Mount { Destination = "/data", Source = local, Type = "bind", Options = { "rbind", "rw" } });
            var create = new Upstream.CreateContainerRequest { ContainerId = "work", ExecId = "work", OCI = spec, SandboxPidns = true };
            create.Storages.Add(new Upstream.Storage { Driver = "local", Source = "local", Fstype = "local", Options = { "mode=0777" }, MountPoint = local });
            await service.CreateContainerAsync(create, deadline: DateTime.UtcNow.AddSeconds(60));
            await service.StartContainerAsync(new Upstream.StartContainerRequest { ContainerId = "work" });

            var output = new StringBuilder();
            var read = Task.Run(async () =>
            {
                while (true)
                {
                    Upstream.ReadStreamResponse chunk;
                    try
                    {
                        chunk = await service.ReadStdoutAsync(new Upstream.ReadStreamRequest { ContainerId = "work", ExecId = "work", Len = 32 * 1024 });
                    }
                    catch (RpcException)
                    {
                        return; // Kata's agent ends a drained stream with an error; ours with empty data
                    }
                    if (chunk.Data.IsEmpty)
                    {
                        return;
                    }
                    output.Append(chunk.Data.ToStringUtf8());
                }
            });
            var wait = await service.WaitProcessAsync(new Upstream.WaitProcessRequest { ContainerId = "work", ExecId = "work" });
            wait.Status.Should().Be(0, agent.Output);
            await read.WaitAsync(TimeSpan.FromSeconds(30));
            output.ToString().Should().Be("hello from kata-pod\nsleep 300 \n", "the workload shares the pause container's PID namespace and the sandbox's hostname");
            File.ReadAllText(Path.Combine(local, "file")).Should().Be("kept\n");

            await service.RemoveContainerAsync(new Upstream.RemoveContainerRequest { ContainerId = "work", Timeout = 10 });
            await service.RemoveContainerAsync(new Upstream.RemoveContainerRequest { ContainerId = "kata-sb", Timeout = 10 });
            var gone = async () => await service.WaitProcessAsync(new Upstream.WaitProcessRequest { ContainerId = "work", ExecId = "work" });
            (await gone.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.NotFound);
        }
        finally
        {
            await service.DestroySandboxAsync(new Upstream.DestroySandboxRequest());
            if (Directory.Exists(local))
            {
                Directory.Delete(local, recursive: true);
            }
        }
        (await health.CheckAsync(new Upstream.CheckRequest())).Status.Should().Be(Upstream.HealthCheckResponse.Types.ServingStatus.Serving);
    }

    /// <summary>A spec as Kata's Go runtime sends it after constrainGRPCSpec and handlePidNamespace.</summary>
    private static Upstream.Spec KataSpec(string rootfs, string[] args) => new()
    {
        Version = "1.1.0",
        Root = new Upstream.Root { Path = rootfs },
        Hostname = "ignored-for-the-sandbox-one",
        Process = new Upstream.Process
        {
            Args = { args },
            Env = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin" },
            Cwd = "/",
            User = new Upstream.User { UID = 0, GID = 0 },
        },
        Linux = new Upstream.Linux
        {
            Namespaces = { new Upstream.LinuxNamespace { Type = "ipc" }, new Upstream.LinuxNamespace { Type = "uts" }, new Upstream.LinuxNamespace { Type = "mount" } },
        },
        Mounts = { new Upstream.Mount { Destination = "/proc", Type = "proc", Source = "proc" } },
    };
}
