using FluentAssertions;
using KataAgent.Agent.Containers.Cgroups;
using Xunit;

namespace KataAgent.Tests.Cgroups;

public class CgroupPathTests
{
    [Theory]
    [InlineData("/kubepods/burstable/pod1/abc", "kubepods/burstable/pod1/abc")]
    [InlineData("kubepods/abc", "kubepods/abc")]
    [InlineData("//a/./b//c/", "a/b/c")]
    [InlineData("/a/b/../c", "a/c")]
    public void Absolute_and_relative_paths_are_taken_below_the_root(string oci, string expected)
    {
        CgroupPath.ForContainer(oci, "abc").Should().Be(expected);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void No_path_means_kata_slash_container_id(string? oci)
    {
        CgroupPath.ForContainer(oci, "abc").Should().Be("kata/abc");
    }

    [Theory]
    [InlineData("/../etc", "escapes")]
    [InlineData("a/../../b", "escapes")]
    [InlineData("/", "root")]
    [InlineData("/./", "root")]
    [InlineData("a/..", "root")]
    [InlineData("a\0b", "NUL")]
    public void Paths_escaping_or_naming_the_root_or_holding_NUL_are_refused(string oci, string reason)
    {
        var resolve = () => CgroupPath.ForContainer(oci, "abc");
        resolve.Should().Throw<CgroupException>().WithMessage($"*{reason}*");
    }

    [Theory]
    [InlineData("")]
    [InlineData("..")]
    [InlineData("a/b")]
    [InlineData("x\0")]
    public void Bad_container_ids_are_refused_for_the_default_path(string id)
    {
        var resolve = () => CgroupPath.ForContainer(null, id);
        resolve.Should().Throw<CgroupException>();
    }

    [Theory]
    [InlineData("system.slice:kata:abc", "system.slice/kata-abc.scope")]
    [InlineData("kubepods-burstable-pod1.slice:cri-containerd:abc", "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-abc.scope")]
    [InlineData(":kata:abc", "system.slice/kata-abc.scope")]
    [InlineData("-.slice:kata:abc", "kata-abc.scope")]
    public void Systemd_style_paths_are_expanded_like_runcs_systemd_driver(string oci, string expected)
    {
        CgroupPath.ForContainer(oci, "abc").Should().Be(expected);
    }

    [Fact]
    public void The_manager_normalises_its_path_and_joins_it_to_the_root()
    {
        var manager = new CgroupV2Manager("/kata//abc/", "/sys/fs/cgroup/");
        manager.RelativePath.Should().Be("kata/abc");
        manager.CgroupDirectory.Should().Be("/sys/fs/cgroup/kata/abc");
        CgroupV2Manager.ForContainer("c9", null, "/mnt/cg").CgroupDirectory.Should().Be("/mnt/cg/kata/c9");
    }
}
