using FluentAssertions;
using KataAgent.Protocols.Agent;
using KataAgent.Shim.Tasks;
using Xunit;

namespace KataAgent.Tests.Shim.Tasks;

public sealed class VmSpecRewriterTests
{
    /// <summary>A container spec as containerd's CRI writes it: the sandbox's namespaces by /proc path, the pod netns.</summary>
    private static Spec CriContainerSpec() => new()
    {
        Root = new Root { Path = "/bundle/rootfs" },
        Process = new Process { Args = { "sh" }, Cwd = "/", Terminal = false },
        Hooks = new Hooks { Prestart = { new Hook { Path = "/usr/bin/host-hook" } } },
        Linux = new KataAgent.Protocols.Agent.Linux
        {
            CgroupsPath = "kubepods-besteffort-pod1.slice:cri-containerd:c1",
            Namespaces =
            {
                new LinuxNamespace { Type = "pid" },
                new LinuxNamespace { Type = "ipc", Path = "/proc/4242/ns/ipc" },
                new LinuxNamespace { Type = "uts", Path = "/proc/4242/ns/uts" },
                new LinuxNamespace { Type = "mount" },
                new LinuxNamespace { Type = "network", Path = "/var/run/netns/cni-1234" },
            },
        },
    };

    [Fact]
    public void The_pod_s_namespaces_by_host_path_become_the_guest_s_network_and_the_sandbox_s_ipc_and_uts()
    {
        var guest = VmSpecRewriter.ForGuest(CriContainerSpec(), terminal: false);

        // ipc and uts without a path: the agent joins the sandbox's (the pod's hostname); no network entry: the guest's.
        guest.Linux.Namespaces.Select(n => (n.Type, n.Path)).Should().Equal(("pid", ""), ("ipc", ""), ("uts", ""), ("mount", ""));
    }

    [Fact]
    public void A_shared_pid_namespace_by_path_becomes_the_pods_never_a_host_path_in_the_guest()
    {
        var spec = CriContainerSpec();
        VmSpecRewriter.SharesPodPidNamespace(spec).Should().BeFalse("CRI's CONTAINER mode: a PID namespace of the container's own");
        spec.Linux.Namespaces[0].Path = "/proc/4242/ns/pid";

        var guest = VmSpecRewriter.ForGuest(spec, terminal: false);

        VmSpecRewriter.SharesPodPidNamespace(spec).Should().BeTrue("CRI's POD mode names the sandbox's PID namespace: the container asks for the pod's");
        VmSpecRewriter.SharesPodPidNamespace(guest).Should().BeFalse();

        guest.Linux.Namespaces.Should().ContainSingle(n => n.Type == "pid").Which.Path.Should().BeEmpty();
        guest.Linux.Namespaces.Should().NotContain(n => n.Path.Length > 0);
    }

    [Fact]
    public void Host_hooks_go_the_terminal_follows_the_request_and_the_rest_is_kept()
    {
        var spec = CriContainerSpec();

        var guest = VmSpecRewriter.ForGuest(spec, terminal: true);

        guest.Hooks.Should().BeNull();
        guest.Process.Terminal.Should().BeTrue();
        guest.Linux.CgroupsPath.Should().Be("kubepods-besteffort-pod1.slice:cri-containerd:c1", "the agent places systemd-style paths itself");
        guest.Root.Path.Should().Be("/bundle/rootfs");
        spec.Linux.Namespaces.Should().HaveCount(5, "the caller's spec is not changed");
        spec.Hooks.Should().NotBeNull();
    }

    [Fact]
    public void The_netns_a_spec_names_is_where_the_VM_runs_and_a_new_netns_names_none()
    {
        VmSpecRewriter.NetworkNamespaceOf(CriContainerSpec()).Should().Be("/var/run/netns/cni-1234");
        var ctr = CriContainerSpec();
        ctr.Linux.Namespaces.RemoveAt(4);
        ctr.Linux.Namespaces.Add(new LinuxNamespace { Type = "network" });
        VmSpecRewriter.NetworkNamespaceOf(ctr).Should().BeNull();
        VmSpecRewriter.ForGuest(ctr, false).Linux.Namespaces.Should().Contain(n => n.Type == "network" && n.Path == "", "ctr run's own netns (loopback only) stays, as runc gives it");
    }
}
