using FluentAssertions;
using KataAgent.Rootfs.Compression;
using KataAgent.Rootfs.Image;
using Xunit;

namespace KataAgent.Rootfs.Tests.Image;

/// <summary>
/// kata-rootfs build --guest-pull: the image gets the helper, the OpenSSL libraries .NET opens for TLS and a CA
/// bundle, and nothing else; the default image has none of them, so it does not grow. Both from out/kata-agent,
/// without a kernel (the modules are the same either way); the helper is stood in for by a copy of the agent.
/// </summary>
public sealed class GuestPullImageTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Guest_pull_adds_exactly_the_helper_the_tls_libraries_and_the_ca_bundle_and_the_default_image_has_none_of_them()
    {
        string helper = _temp.File("kata-image-pull");
        File.Copy(RepoPaths.AgentBinary, helper);
        var plain = new InitrdOptions { AgentPath = RepoPaths.AgentBinary, Kernel = null, BusyboxPath = RepoPaths.Busybox };
        var withPull = new InitrdOptions { AgentPath = RepoPaths.AgentBinary, Kernel = null, BusyboxPath = RepoPaths.Busybox, GuestPull = new GuestPullFiles { HelperPath = helper } };

        var defaultTree = await new InitrdBuilder(plain).AssembleAsync();
        var pullTree = await new InitrdBuilder(withPull).AssembleAsync();

        var defaultPaths = defaultTree.Entries.Select(e => e.Path).ToHashSet();
        var added = pullTree.Entries.Select(e => e.Path).Where(p => !defaultPaths.Contains(p)).Order(StringComparer.Ordinal).ToArray();
        added.Should().BeEquivalentTo(
            "/etc/ssl", "/etc/ssl/certs", GuestPullFiles.CaBundleImagePath, GuestPullFiles.HelperImagePath,
            "/lib/x86_64-linux-gnu/libcrypto.so.3", "/lib/x86_64-linux-gnu/libssl.so.3");
        defaultPaths.Should().NotContain(p => p.Contains("libssl", StringComparison.Ordinal) || p.Contains("libcrypto", StringComparison.Ordinal) || p.StartsWith("/etc/ssl", StringComparison.Ordinal) || p.Contains("kata-image-pull", StringComparison.Ordinal),
            "the default image carries nothing of guest pull");
        pullTree.Entries.Select(e => e.Path).Should().Contain(defaultPaths, "guest pull only adds");
        pullTree.Find("/etc/kataagent-image")!.Content.Should().NotBeNull();
        System.Text.Encoding.UTF8.GetString(pullTree.Find("/etc/kataagent-image")!.Content!).Should().Contain("guest_pull=/usr/bin/kata-image-pull");
        System.Text.Encoding.UTF8.GetString(defaultTree.Find("/etc/kataagent-image")!.Content!).Should().NotContain("guest_pull");

        // The written archives: the default one is smaller by at least the helper and the CA bundle.
        string defaultImage = _temp.File("default.img");
        string pullImage = _temp.File("pull.img");
        var defaultResult = await new InitrdBuilder(plain).BuildAsync(defaultImage);
        var pullResult = await new InitrdBuilder(withPull).BuildAsync(pullImage);
        defaultResult.GuestPullSize.Should().Be(0);
        pullResult.GuestPullSize.Should().Be(new FileInfo(helper).Length + new FileInfo(GuestPullFiles.DefaultCaBundle).Length);
        (pullResult.UncompressedSize - defaultResult.UncompressedSize).Should().BeGreaterThanOrEqualTo(pullResult.GuestPullSize);
        pullResult.Compression.Should().Be(InitrdCompression.None, "the default: the kernel unpacks a plain cpio fastest");
    }

    [Fact]
    public async Task A_missing_helper_is_named()
    {
        var options = new InitrdOptions { AgentPath = RepoPaths.AgentBinary, Kernel = null, GuestPull = new GuestPullFiles { HelperPath = _temp.File("absent") } };

        var failure = await new InitrdBuilder(options).Invoking(b => b.AssembleAsync()).Should().ThrowAsync<FileNotFoundException>();

        failure.Which.Message.Should().Contain(_temp.File("absent")).And.Contain("kata-image-pull");
    }
}
