using FluentAssertions;
using KataAgent.Shim.Cli;
using Xunit;

namespace KataAgent.Tests.Shim;

/// <summary>The socket path convention containerd's shims share (reference §2.3), with its verified test vector.</summary>
public sealed class ShimSocketAddressTests
{
    [Fact]
    public void The_verified_vector_gives_the_runc_shims_path()
    {
        // containerd 1.6.20 with -address /tmp/ctd/containerd.sock, namespace default, task sl1: runc's shim
        // listened at exactly this path (reference §2.3 [V]).
        ShimSocketAddress.For("/tmp/ctd/containerd.sock", "default", "sl1")
            .Should().Be("unix:///run/containerd/s/d8b3cbb6fb8534ad666c68bf9c30fa5f41718d8a6d663b6ddda8aadd004ba007");
    }

    [Fact]
    public void The_address_is_joined_as_filepath_Join_does()
    {
        string expected = ShimSocketAddress.For("/tmp/ctd/containerd.sock", "default", "sl1");

        ShimSocketAddress.For("/tmp//ctd/./containerd.sock/", "default", "sl1").Should().Be(expected);
        ShimSocketAddress.For("/tmp/ctd/x/../containerd.sock", "default", "sl1").Should().Be(expected);
        ShimSocketAddress.For("/tmp/ctd/containerd.sock", "default", "sl2").Should().NotBe(expected);
        ShimSocketAddress.For("/tmp/ctd/containerd.sock", "other", "sl1").Should().NotBe(expected);
    }

    [Fact]
    public void The_path_fits_containerds_limit()
    {
        string path = ShimSocketAddress.PathOf(ShimSocketAddress.For("/run/containerd/containerd.sock", "k8s.io", new string('f', 64)));

        path.Should().StartWith("/run/containerd/s/").And.HaveLength("/run/containerd/s/".Length + 64);
        path.Length.Should().BeLessThanOrEqualTo(ShimSocketAddress.PathLimit);
    }

    [Fact]
    public void An_address_without_the_unix_scheme_is_abstract()
    {
        ShimSocketAddress.PathOf("unix:///run/containerd/s/ab").Should().Be("/run/containerd/s/ab");
        ShimSocketAddress.PathOf("shim-ab").Should().Be("\0shim-ab");
    }

    [Theory]
    [InlineData("", ".")]
    [InlineData("/", "/")]
    [InlineData("//a///b//", "/a/b")]
    [InlineData("/a/./b/.", "/a/b")]
    [InlineData("/a/b/../c", "/a/c")]
    [InlineData("/../a", "/a")]
    [InlineData("a/../..", "..")]
    [InlineData("a/..", ".")]
    [InlineData("../../a", "../../a")]
    public void Clean_matches_go(string path, string cleaned)
    {
        GoPath.Clean(path).Should().Be(cleaned);
    }

    [Fact]
    public void Join_skips_empty_elements()
    {
        GoPath.Join("", "default", "sl1").Should().Be("default/sl1");
        GoPath.Join("", "", "").Should().BeEmpty();
        GoPath.Join("/a.sock", "ns", "id").Should().Be("/a.sock/ns/id");
    }
}
