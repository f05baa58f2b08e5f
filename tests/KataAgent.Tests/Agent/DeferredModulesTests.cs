using System.Collections.Concurrent;
using FluentAssertions;
using KataAgent.Agent.Errors;
using KataAgent.Agent.Guest;
using Xunit;

namespace KataAgent.Tests.Agent;

/// <summary>The gate between the modules PID 1 loads after the first answer and the operations that need them.</summary>
public class DeferredModulesTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_waiter_waits_until_its_module_is_loaded_and_not_for_the_ones_after_it()
    {
        using var releaseNet = new ManualResetEventSlim();
        var loaded = new ConcurrentQueue<string>();
        var modules = new DeferredModules(
            [("virtio_blk", "/m/virtio_blk.ko"), ("virtio_net", "/m/virtio_net.ko")],
            (path, _) =>
            {
                if (path.EndsWith("virtio_net.ko", StringComparison.Ordinal))
                {
                    releaseNet.Wait(Patience);
                }
                loaded.Enqueue(path);
                return null;
            });
        var warnings = new ConcurrentQueue<string>();
        var summaries = new ConcurrentQueue<string>();

        var net = modules.RequireAsync("UpdateInterface", CancellationToken.None, DeferredModules.VirtioNet);
        net.IsCompleted.Should().BeFalse("nothing has been loaded yet");
        modules.StartLoading(warnings.Enqueue, summaries.Enqueue);

        await modules.RequireAsync("the disk at PCI path 02/00", CancellationToken.None, DeferredModules.VirtioBlk).WaitAsync(Patience);
        loaded.Should().Equal("/m/virtio_blk.ko");
        net.IsCompleted.Should().BeFalse("virtio_net is still loading");

        releaseNet.Set();
        await net.WaitAsync(Patience);
        loaded.Should().Equal("/m/virtio_blk.ko", "/m/virtio_net.ko");
        warnings.Should().BeEmpty();
        await WaitForAsync(() => !summaries.IsEmpty);
        summaries.Should().ContainSingle().Which.Should().Contain("2 of 2 loaded").And.Contain("virtio_blk virtio_net");
    }

    [Fact]
    public async Task A_module_outside_the_set_is_never_waited_for()
    {
        var modules = new DeferredModules([("overlay", "/m/overlay.ko")], (_, _) => null);

        // Not started: a waiter for overlay would wait; one for a module the set does not hold goes on at once.
        await modules.RequireAsync("ListInterfaces", CancellationToken.None, DeferredModules.VirtioNet).WaitAsync(Patience);
        modules.Require("OCI.Mounts[0].type (tmpfs)", DeferredModules.ForFilesystem("tmpfs"));
        await DeferredModules.Boot.RequireAsync("the disk at PCI path 02/00", CancellationToken.None, DeferredModules.VirtioBlk).WaitAsync(Patience);
    }

    [Fact]
    public async Task A_failed_module_fails_whoever_needs_it_with_an_error_naming_it_and_why()
    {
        var modules = new DeferredModules(
            [("fuse", "/m/fuse.ko"), ("virtiofs", "/m/virtiofs.ko"), ("overlay", "/m/overlay.ko")],
            (path, _) => path.EndsWith("fuse.ko", StringComparison.Ordinal) ? "finit_module /m/fuse.ko: No such file or directory (ENOENT)" : null);
        var warnings = new ConcurrentQueue<string>();
        modules.StartLoading(warnings.Enqueue, _ => { });

        var failing = () => modules.RequireAsync("storages[0] (virtio-fs)", CancellationToken.None, DeferredModules.ForFilesystem("virtiofs")).WaitAsync(Patience);

        var error = (await failing.Should().ThrowAsync<AgentException>()).Which;
        error.Kind.Should().Be(AgentErrorKind.Internal);
        error.Message.Should().Contain("storages[0] (virtio-fs)").And.Contain("kernel module fuse").And.Contain("finit_module /m/fuse.ko: No such file or directory");
        await modules.RequireAsync("OCI.Mounts[3].type (overlay)", CancellationToken.None, DeferredModules.Overlay).WaitAsync(Patience);
        warnings.Should().ContainSingle().Which.Should().Contain("fuse").And.Contain("ENOENT");
    }

    [Fact]
    public async Task A_module_still_loading_after_the_wait_limit_is_unavailable_naming_it()
    {
        using var never = new ManualResetEventSlim();
        var modules = new DeferredModules([("virtio_net", "/m/virtio_net.ko")], (_, _) =>
        {
            never.Wait(Patience);
            return null;
        }, waitLimit: TimeSpan.FromMilliseconds(50));
        modules.StartLoading(_ => { }, _ => { });
        try
        {
            var waiting = () => modules.RequireAsync("UpdateRoutes", CancellationToken.None, DeferredModules.VirtioNet);

            var error = (await waiting.Should().ThrowAsync<AgentException>()).Which;
            error.Kind.Should().Be(AgentErrorKind.Unavailable);
            error.Message.Should().Contain("UpdateRoutes").And.Contain("kernel module virtio_net").And.Contain("still loading");
        }
        finally
        {
            never.Set();
        }
    }

    [Fact]
    public void The_agent_channel_modules_load_before_serving_and_the_rest_are_deferred()
    {
        string[] channel = ["virtio_ring", "virtio_pci_modern_dev", "virtio_pci_legacy_dev", "virtio", "virtio_pci", "virtio_console", "virtio_rng", "vsock", "vmw_vsock_virtio_transport_common", "vmw_vsock_virtio_transport"];
        string[] later = ["virtio_blk", "failover", "net_failover", "virtio_net", "vsock_loopback", "overlay", "fuse", "virtiofs"];

        channel.Should().OnlyContain(name => !DeferredModules.IsDeferred(name));
        later.Should().OnlyContain(name => DeferredModules.IsDeferred(name));
        DeferredModules.IsDeferred("virtio-blk").Should().BeTrue("module file names may use '-'");
    }

    [Theory]
    [InlineData("overlay", new[] { "overlay" })]
    [InlineData("virtiofs", new[] { "fuse", "virtiofs" })]
    [InlineData("fuse.sshfs", new[] { "fuse" })]
    [InlineData("tmpfs", new string[0])]
    [InlineData("ext4", new string[0])]
    [InlineData("", new string[0])]
    public void A_mount_needs_the_modules_of_its_filesystem(string type, string[] modules) =>
        DeferredModules.ForFilesystem(type).Should().Equal(modules);

    [Theory]
    [InlineData("/lib/modules/6.1.0-57-cloud-amd64/kernel/drivers/char/hw_random/virtio-rng.ko", "virtio_rng")]
    [InlineData("/lib/modules/6.1.0-57-cloud-amd64/kernel/fs/overlayfs/overlay.ko", "overlay")]
    [InlineData("/lib/modules/k/kernel/net/vmw_vsock/vsock.ko.xz", "vsock")]
    public void The_image_list_names_each_module_as_the_kernel_does(string path, string name) =>
        GuestInit.ModuleName(path).Should().Be(name);

    private static async Task WaitForAsync(Func<bool> condition)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!condition() && clock.Elapsed < Patience)
        {
            await Task.Delay(10);
        }
    }
}
