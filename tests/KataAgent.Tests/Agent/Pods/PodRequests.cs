using Grpc.Core;
using KataAgent.Agent.Containers.Cgroups;
using KataAgent.Host.Sandboxes;
using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Extensions;

namespace KataAgent.Tests.Agent.Pods;

/// <summary>Pods for the tests: unique ids (cgroups live in the host's hierarchy, shared with other test runs), busybox containers.</summary>
internal static class PodRequests
{
    /// <summary>A fresh pod id.</summary>
    public static string NewId() => $"pod-{Guid.NewGuid():N}"[..16];

    /// <summary>A pod named <paramref name="podId"/> whose containers (name, command) run in <paramref name="rootfs"/>, with ids "POD-NAME".</summary>
    public static CreatePodRequest Create(string podId, string rootfs, params (string Name, string[] Args)[] containers)
    {
        var request = new CreatePodRequest { Sandbox = new CreateSandboxRequest { SandboxId = podId, Hostname = "pod-host" } };
        foreach (var (name, args) in containers)
        {
            request.Containers.Add(new PodContainer
            {
                Name = name,
                Container = new CreateContainerRequest { ContainerId = $"{podId}-{name}", OCI = ContainerSpecs.Default(rootfs, args) },
            });
        }
        return request;
    }

    public static KataAgent.Protocols.Extensions.Pods.PodsClient Client(CallInvoker invoker) => new(invoker);

    /// <summary>The cgroup directory a container of these tests gets (the agent's default parent under the cgroup2 mount).</summary>
    public static string CgroupOf(string containerId) =>
        Path.Combine(Cgroup2Mount.Find() ?? throw new InvalidOperationException("no cgroup2 mount"), CgroupPath.DefaultParent, containerId);

    /// <summary>The status of a failed call.</summary>
    public static async Task<RpcException> FailureOf(Func<Task> call)
    {
        try
        {
            await call();
        }
        catch (RpcException e)
        {
            return e;
        }
        throw new InvalidOperationException("the call succeeded");
    }
}
