using FluentAssertions;
using KataAgent.Agent.Storage.SharedFs;
using KataAgent.Host.Sandboxes;
using KataAgent.Protocols.Agent;
using KataAgent.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace KataAgent.Tests.Agent.SharedFs;

/// <summary>
/// The guest's submounts of a container's share paths: which paths a container uses inside the share, and (as root,
/// on mounts standing in for the guest's automatic submounts) that removing it detaches exactly those.
/// </summary>
[Collection(HostMountTableCollection.Name)]
public sealed class ShareSubmountsTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void A_container_uses_its_shared_rootfs_and_the_bind_sources_inside_the_share()
    {
        var spec = ContainerSpecs.Default(["true"], terminal: false);
        spec.Mounts.Add(new Mount { Destination = "/data", Source = "/run/kata-containers/shared/containers/c1-0123456789abcdef-data", Type = "bind" });
        spec.Mounts.Add(new Mount { Destination = "/etc/resolv.conf", Source = "/run/kata-containers/sandbox/resolv.conf", Type = "bind" });
        spec.Mounts.Add(new Mount { Destination = "/cfg", Source = "/run/kata-containers/shared/containers/c1-fedcba9876543210-cfg/", Options = { "rbind" } });
        spec.Mounts.Add(new Mount { Destination = "/escape", Source = "/run/kata-containers/shared/containers/../../../etc", Type = "bind" });

        ShareSubmounts.Of("/run/kata-containers/shared/containers/c1/rootfs", spec).Should().Equal(
            "/run/kata-containers/shared/containers/c1/rootfs",
            "/run/kata-containers/shared/containers/c1-0123456789abcdef-data",
            "/run/kata-containers/shared/containers/c1-fedcba9876543210-cfg");
        ShareSubmounts.Of("/run/kata-containers/c1/rootfs", ContainerSpecs.Default(["true"], terminal: false)).Should().BeEmpty("a blk rootfs is not in the share");
    }

    [Fact]
    public void Detaching_takes_the_mounts_at_and_below_the_paths_and_leaves_the_others()
    {
        string share = _temp.CreateDirectory("share") + "/";
        string rootfs = _temp.CreateDirectory("share/c1/rootfs");
        string other = _temp.CreateDirectory("share/c2/rootfs");
        Libc(rootfs);
        Libc(other);
        // A submount below a submount (a volume mounted inside a shared rootfs on the host).
        string nested = Directory.CreateDirectory(Path.Combine(rootfs, "nested")).FullName;
        Libc(nested);
        try
        {
            ShareSubmounts.Detach([rootfs], NullLogger.Instance).Should().Be(2);

            var points = File.ReadAllLines("/proc/self/mountinfo").Select(l => l.Split(' ')[4]).ToList();
            points.Should().NotContain(rootfs).And.NotContain(nested).And.Contain(other);
            share.Should().EndWith("/");
        }
        finally
        {
            ShareSubmounts.Detach([other, rootfs], NullLogger.Instance);
        }
    }

    private static void Libc(string point) =>
        KataAgent.Linux.Interop.Libc.Mount("tmpfs", point, "tmpfs", 0, "size=1m").Should().Be(0, "mount a tmpfs on {0}", point);
}
