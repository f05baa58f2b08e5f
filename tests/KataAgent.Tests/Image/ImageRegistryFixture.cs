using System.Text.Json;
using KataAgent.Image.Manifests;
using KataAgent.Testing.Containerd;
using KataAgent.Testing.Registry;
using Xunit;

namespace KataAgent.Tests.Image;

/// <summary>
/// One plain-HTTP <see cref="TestRegistry"/> for a test class, holding: the busybox image of
/// <see cref="BusyboxOciImage"/> pushed by skopeo as OCI (<c>test/busybox:v1</c>) and converted to Docker schema 2
/// (<c>test/busybox:v2s2</c>); and <c>test/multi:latest</c>, an OCI index PUT by hand over a linux/amd64 image, a
/// linux/arm64/v8 one and a BuildKit-style attestation entry (<c>unknown/unknown</c>), each pushed first.
/// </summary>
public sealed class ImageRegistryFixture : IAsyncLifetime
{
    private TempDirectory? _scratch;

    /// <summary>The registry.</summary>
    public TestRegistry Registry { get; private set; } = null!;

    /// <summary>The busybox OCI manifest's digest as umoci wrote it (skopeo pushes the bytes unchanged).</summary>
    public string BusyboxDigest { get; private set; } = "";

    /// <summary>The busybox image's layout (shared; copy before changing).</summary>
    public string BusyboxLayout { get; private set; } = "";

    /// <summary>The multi-platform index's entries.</summary>
    public Descriptor Amd64 { get; private set; } = null!;

    /// <summary>The arm64 entry.</summary>
    public Descriptor Arm64 { get; private set; } = null!;

    /// <summary>The attestation entry.</summary>
    public Descriptor Attestation { get; private set; } = null!;

    /// <summary>The index's digest.</summary>
    public string IndexDigest { get; private set; } = "";

    /// <summary><c>host/test/busybox:v1</c>.</summary>
    public string Busybox => Registry.Reference("test/busybox:v1");

    /// <summary><c>host/test/busybox:v2s2</c>.</summary>
    public string BusyboxV2s2 => Registry.Reference("test/busybox:v2s2");

    /// <summary><c>host/test/multi:latest</c>.</summary>
    public string Multi => Registry.Reference("test/multi:latest");

    public async Task InitializeAsync()
    {
        var archives = await BusyboxOciImage.BuildAsync();
        BusyboxLayout = archives.Layout;
        BusyboxDigest = LayoutDigest(archives.Layout, "v1");
        Registry = await TestRegistry.StartAsync();
        await Registry.PushAsync($"oci:{archives.Layout}:v1", "test/busybox:v1");
        await Registry.PushAsync($"oci:{archives.Layout}:v1", "test/busybox:v2s2", "v2s2");

        _scratch = new TempDirectory();
        var layout = new OciLayoutWriter(_scratch.CreateDirectory("multi"));
        Amd64 = layout.WriteImage(new Platform { Architecture = "amd64" }, [OciLayoutWriter.Tar(("etc/arch", "amd64\n"u8.ToArray()))]);
        Arm64 = layout.WriteImage(new Platform { Architecture = "arm64", Variant = "v8" }, [OciLayoutWriter.Tar(("etc/arch", "arm64\n"u8.ToArray()))]);
        var attestation = layout.WriteImage(new Platform { Os = "unknown", Architecture = "unknown" }, [OciLayoutWriter.Tar(("provenance.json", "{}"u8.ToArray()))]);
        Attestation = attestation with
        {
            Annotations = new Dictionary<string, string>
            {
                ["vnd.docker.reference.type"] = "attestation-manifest",
                ["vnd.docker.reference.digest"] = Amd64.Digest,
            },
        };
        layout.WriteIndexJson([
            OciLayoutWriter.Named(Amd64 with { Platform = null }, "amd64"),
            OciLayoutWriter.Named(Arm64 with { Platform = null }, "arm64"),
            OciLayoutWriter.Named(attestation with { Platform = null }, "attestation"),
        ]);
        foreach (var tag in new[] { "amd64", "arm64", "attestation" })
            await Registry.PushAsync($"oci:{layout.Directory}:{tag}", "test/multi:" + tag);
        // The attestation first: a client that does not skip it, or takes the first entry, is caught.
        IndexDigest = await Registry.PutManifestAsync("test/multi", "latest", MediaTypes.OciIndex,
            OciLayoutWriter.IndexBytes([Attestation, Arm64, Amd64]));
    }

    public async Task DisposeAsync()
    {
        if (Registry is not null)
            await Registry.DisposeAsync();
        _scratch?.Dispose();
    }

    /// <summary>The digest index.json of a layout gives for <paramref name="tag"/>.</summary>
    public static string LayoutDigest(string layout, string tag)
    {
        var index = JsonSerializer.Deserialize(File.ReadAllBytes(Path.Combine(layout, "index.json")), ImageJsonContext.Default.ImageIndex)!;
        return index.Manifests.Single(m => m.Annotations?.GetValueOrDefault(OciLayoutWriter.RefName) == tag).Digest;
    }
}
