using FluentAssertions;
using KataAgent.Host.Pods;
using Xunit;

namespace KataAgent.Tests.HostPods;

/// <summary>The guest's hostname as kubelet makes it: spec.hostname, else the name cut to a hostname's 63 characters.</summary>
public class PodSpecHostnameTests
{
    [Theory]
    [InlineData("web", "", "web")]
    [InlineData("web", "front", "front")]
    [InlineData("a.b.c", "", "a.b.c")]
    public void The_hostname_is_spec_hostname_or_else_the_name(string name, string hostname, string expected) =>
        Spec(name, hostname).GuestHostname.Should().Be(expected);

    [Fact]
    public void A_name_longer_than_a_hostname_is_cut_to_63_characters_without_a_trailing_dash_or_dot()
    {
        string name = new string('a', 61) + "-.bbbb";

        Spec(name, "").GuestHostname.Should().Be(new string('a', 61));
        Spec(new string('x', 100), "").GuestHostname.Should().HaveLength(63);
    }

    private static PodSpec Spec(string name, string hostname) => new()
    {
        Name = name,
        Hostname = hostname,
        Containers = [new PodContainerSpec { Name = "c", Rootfs = "/srv/rootfs" }],
    };
}
