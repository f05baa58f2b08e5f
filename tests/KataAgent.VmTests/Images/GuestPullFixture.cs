using KataAgent.Host.Network;
using KataAgent.Host.Sandboxes;
using KataAgent.Testing.Images;
using KataAgent.Testing.Registry;
using KataAgent.VmTests.Infrastructure;
using Xunit;

namespace KataAgent.VmTests.Images;

/// <summary>
/// What the guest pull tests share: one test registry (plain HTTP, htpasswd Basic auth, in a network namespace of
/// its own) holding <see cref="GuestPullImages"/>, a pod netns wired into the registry's namespace
/// (<see cref="GuestPullNetwork"/>), and one sandbox booting out/initrd-guest-pull.img in that pod netns (tcfilter),
/// so the guest reaches the registry at its address. The layout the images were built in is deleted once they are
/// pushed: from then on the token exists only in the registry's (gzip) blobs.
/// </summary>
public sealed class GuestPullFixture : IAsyncLifetime
{
    private readonly TempDirectory _directory = new();

    public TestRegistry Registry { get; private set; } = null!;

    public GuestPullNetwork Network { get; private set; } = null!;

    public Sandbox Sandbox { get; private set; } = null!;

    /// <summary>The busybox app image's reference.</summary>
    public string AppReference { get; private set; } = "";

    /// <summary>The layered image's reference.</summary>
    public string LayeredReference { get; private set; } = "";

    /// <summary>The layered image's blob digests' hex (config and layers), as pushed.</summary>
    public IReadOnlyList<string> LayeredBlobs { get; private set; } = [];

    public async Task InitializeAsync()
    {
        HostTools.RequireQemu();
        _ = RepoPaths.Kernel;
        _ = RepoPaths.GuestPullInitrd;
        string layout = _directory.File("layout");
        await GuestPullImages.BuildAsync(layout, _directory.CreateDirectory("scratch"));
        LayeredBlobs = BlobsOf(layout);
        Registry = await TestRegistry.StartAsync(new TestRegistryOptions { Auth = TestRegistryAuth.Basic });
        AppReference = await Registry.PushAsync($"oci:{layout}:{BusyboxAppImage.Tag}", "test/app:v1");
        LayeredReference = await Registry.PushAsync($"oci:{layout}:{GuestPullImages.LayeredTag}", "test/layered:v1");
        Directory.Delete(layout, recursive: true);
        Network = new GuestPullNetwork(Registry);
        Sandbox = await Sandbox.StartAsync(VmOptions.Sandbox(_directory.File("sandbox"), "guest-pull",
            vm => vm with { InitrdPath = RepoPaths.GuestPullInitrd, NetworkNamespacePath = Network.PodPath, KernelArguments = ["agent.log=debug"] }) with
        {
            NetworkModel = NetworkModel.TcFilter,
        });
    }

    public async Task DisposeAsync()
    {
        if (Sandbox is not null)
        {
            await Sandbox.DestroyAsync();
            await Sandbox.DisposeAsync();
        }
        Network?.Dispose();
        if (Registry is not null)
        {
            await Registry.DisposeAsync();
        }
        _directory.Dispose();
    }

    /// <summary>Every blob of the layout but the index's (all of them are the layered image's or the app image's it is built on).</summary>
    private static string[] BlobsOf(string layout) =>
        Directory.GetFiles(Path.Combine(layout, "blobs", "sha256")).Select(Path.GetFileName).ToArray()!;
}
