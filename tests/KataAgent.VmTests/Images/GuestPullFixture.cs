using KataAgent.Host.Network;
using KataAgent.Image.Manifests;
using KataAgent.Image.References;
using KataAgent.Image.Registry;
using KataAgent.Host.Sandboxes;
using KataAgent.Testing.Images;
using KataAgent.Testing.Registry;
using KataAgent.VmTests.Infrastructure;
using Xunit;

namespace KataAgent.VmTests.Images;

/// <summary>
/// What the guest pull tests share: one test registry (HTTPS with a test CA the guest is given as PEM, htpasswd
/// Basic auth, in a network namespace of its own) holding <see cref="GuestPullImages"/> and <c>test/multi:index</c>,
/// an OCI index PUT by hand whose linux/amd64 entry is the zstd app image and whose linux/arm64/v8 and attestation
/// (<c>unknown/unknown</c>) entries are the layered image, a pod netns wired into the registry's namespace
/// (<see cref="RegistryPodNetwork"/>), and one sandbox booting out/initrd-guest-pull.img in that pod netns (tcfilter),
/// so the guest reaches the registry at its address. The layout the images were built in is deleted once they are
/// pushed: from then on the token exists only in the registry's (gzip) blobs.
/// </summary>
public sealed class GuestPullFixture : IAsyncLifetime
{
    private readonly TempDirectory _directory = new();

    public TestRegistry Registry { get; private set; } = null!;

    public RegistryPodNetwork Network { get; private set; } = null!;

    public Sandbox Sandbox { get; private set; } = null!;

    /// <summary>The busybox app image's reference.</summary>
    public string AppReference { get; private set; } = "";

    /// <summary>The layered image's reference.</summary>
    public string LayeredReference { get; private set; } = "";

    /// <summary>The multi-platform index's reference.</summary>
    public string IndexReference { get; private set; } = "";

    /// <summary>The test CA's certificate (PEM), what the guest trusts the registry by.</summary>
    public string CaPem { get; private set; } = "";

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
        Registry = await TestRegistry.StartAsync(new TestRegistryOptions { Auth = TestRegistryAuth.Basic, Tls = true });
        CaPem = await File.ReadAllTextAsync(Registry.CaBundlePath!);
        AppReference = await Registry.PushAsync($"oci:{layout}:{BusyboxAppImage.Tag}", "test/app:v1");
        LayeredReference = await Registry.PushAsync($"oci:{layout}:{GuestPullImages.LayeredTag}", "test/layered:v1");
        IndexReference = await PushIndexAsync(layout);
        Directory.Delete(layout, recursive: true);
        Network = new RegistryPodNetwork(Registry);
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

    /// <summary>
    /// Pushes the zstd app image and the layered image into <c>test/multi</c> and PUTs the index over them, the
    /// entries a client must skip first. Checks that skopeo kept the zstd layer as it is.
    /// </summary>
    private async Task<string> PushIndexAsync(string layout)
    {
        string zstd = await Registry.PushAsync($"oci:{layout}:{GuestPullImages.ZstdTag}", "test/multi:zstd");
        string layered = await Registry.PushAsync($"oci:{layout}:{GuestPullImages.LayeredTag}", "test/multi:layered");
        using var client = new RegistryClient(Registry.ClientOptions());
        var amd64 = await client.ResolveAsync(ImageReference.Parse(zstd), Platform.Current, CancellationToken.None);
        if (amd64.Manifest.Layers.Single().MediaType != MediaTypes.OciLayerZstd)
            throw new InvalidOperationException($"skopeo pushed the zstd layer as {amd64.Manifest.Layers.Single().MediaType}");
        var other = (await client.ResolveAsync(ImageReference.Parse(layered), Platform.Current, CancellationToken.None)).ManifestDescriptor;
        await Registry.PutManifestAsync("test/multi", "index", MediaTypes.OciIndex, OciLayoutWriter.IndexBytes([
            other with
            {
                Platform = new Platform { Os = "unknown", Architecture = "unknown" },
                Annotations = new Dictionary<string, string> { ["vnd.docker.reference.type"] = "attestation-manifest" },
            },
            other with { Platform = new Platform { Architecture = "arm64", Variant = "v8" } },
            amd64.ManifestDescriptor with { Platform = new Platform { Architecture = "amd64" } },
        ]));
        return Registry.Reference("test/multi:index");
    }

    /// <summary>Every blob of the layout but the index's (all of them are the layered image's or the app image's it is built on).</summary>
    private static string[] BlobsOf(string layout) =>
        Directory.GetFiles(Path.Combine(layout, "blobs", "sha256")).Select(Path.GetFileName).ToArray()!;
}
