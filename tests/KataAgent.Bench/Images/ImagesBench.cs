using System.Diagnostics;
using System.Security.Cryptography;
using KataAgent.Host.Images;
using KataAgent.Testing;
using KataAgent.Testing.Images;
using KataAgent.Testing.Registry;

namespace KataAgent.Bench.Images;

/// <summary>
/// Pull and unpack of the same images from one local registry (Debian's docker-registry in a netns of its own,
/// plain HTTP), our library (<see cref="HostImages.PullAsync"/> + <see cref="HostImages.PrepareRootfsAsync"/> into
/// an empty store) beside <c>skopeo copy</c> into an OCI layout + <c>umoci unpack</c>, alternated, each from
/// nothing. Images: busybox (one 1 MiB layer), the tests' four-layer image, and a bulk image (32 MiB of
/// incompressible data and 4000 small files in two layers) where throughput and per-entry costs show. Then guest
/// pull against host pull for <c>kactl run IMAGE</c> (<see cref="KactlRunPullBench"/>). Writes out/bench/images.md.
/// </summary>
internal static class ImagesBench
{
    private const int Runs = 3;

    public static async Task RunAsync(string root)
    {
        using var scratch = new TempDirectory();
        string layout = Path.Combine(scratch.Path, "layout");
        await TestImageBuilder.BuildAllAsync(layout, Path.Combine(scratch.Path, "build"));
        await BuildBulkImageAsync(layout, Path.Combine(scratch.Path, "bulk"));

        await using var registry = await TestRegistry.StartAsync();
        var rows = new List<(string Name, string Value, string Note)>();
        foreach (var (tag, what) in new[]
        {
            (TestImageBuilder.Busybox, "busybox (1 layer, ~1 MiB gzip)"),
            (TestImageBuilder.MultiLayer, "four layers: whiteouts, opaque dir, links, devices, xattrs"),
            (BulkTag, "bulk: 32 MiB incompressible + 4000 small files, 2 layers"),
        })
        {
            string reference = await registry.PushAsync($"oci:{layout}:{tag}", $"bench/{tag}:v1");
            var ours = new List<double>();
            var peers = new List<double>();
            for (int i = 0; i < Runs; i++)
            {
                ours.Add(await OursAsync(registry, reference, scratch.Path));
                peers.Add(await SkopeoUmociAsync(reference, scratch.Path));
            }
            double ratio = Percentiles.Of(ours, 50) / Percentiles.Of(peers, 50);
            rows.Add(($"{what}: KataAgent.Image pull + unpack (p50 / min / max)", Ms(ours), $"{Runs} runs alternated with skopeo+umoci, each into an empty store and rootfs"));
            rows.Add(($"{what}: skopeo copy + umoci unpack (p50 / min / max)", Ms(peers), "`skopeo copy docker://… oci:DIR:tag` then `umoci unpack --image DIR:tag`"));
            rows.Add(($"{what}: ratio ours / skopeo+umoci (p50)", $"{ratio:0.00}×", ""));
        }
        rows.AddRange(await KactlRunPullBench.RunAsync(root));
        await BenchReport.WriteAsync(root, "images", " (images section)", rows);
    }

    private const string BulkTag = "bulk";

    private static async Task<double> OursAsync(TestRegistry registry, string reference, string scratch)
    {
        string run = Directory.CreateDirectory(Path.Combine(scratch, "ours-" + Guid.NewGuid().ToString("N")[..8])).FullName;
        try
        {
            long start = Stopwatch.GetTimestamp();
            using var images = new HostImages(new HostImagesOptions
            {
                StoreDirectory = Path.Combine(run, "store"),
                PlainHttpRegistries = new HashSet<string>(StringComparer.Ordinal) { registry.Host },
            });
            await images.PullAsync(reference);
            await images.PrepareRootfsAsync(reference, Path.Combine(run, "rootfs"));
            return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        finally
        {
            Directory.Delete(run, recursive: true);
        }
    }

    private static async Task<double> SkopeoUmociAsync(string reference, string scratch)
    {
        string run = Directory.CreateDirectory(Path.Combine(scratch, "peer-" + Guid.NewGuid().ToString("N")[..8])).FullName;
        try
        {
            long start = Stopwatch.GetTimestamp();
            await HostTools.RunAsync(HostTools.Require("skopeo", "skopeo"),
                ["--insecure-policy", "copy", "--quiet", "--src-tls-verify=false", "docker://" + reference, $"oci:{run}/layout:v1"]);
            await HostTools.RunAsync(HostTools.Require("umoci", "umoci"), ["unpack", "--image", $"{run}/layout:v1", $"{run}/bundle"]);
            return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        finally
        {
            Directory.Delete(run, recursive: true);
        }
    }

    /// <summary>Tag <see cref="BulkTag"/>: busybox's layer, then 32 MiB of random bytes in 8 files, then 4000 small files; its Cmd is only a placeholder (nothing runs it).</summary>
    private static async Task BuildBulkImageAsync(string layout, string bundle)
    {
        string umoci = HostTools.Require("umoci", "umoci");
        string image = $"{layout}:{BulkTag}";
        await HostTools.RunAsync(umoci, ["new", "--image", image]);
        await HostTools.RunAsync(umoci, ["unpack", "--image", image, bundle]);
        string rootfs = Path.Combine(bundle, "rootfs");
        string data = Directory.CreateDirectory(Path.Combine(rootfs, "data")).FullName;
        for (int i = 0; i < 8; i++)
        {
            await File.WriteAllBytesAsync(Path.Combine(data, $"blob{i}"), RandomNumberGenerator.GetBytes(4 << 20));
        }
        await HostTools.RunAsync(umoci, ["repack", "--refresh-bundle", "--image", image, bundle]);
        for (int d = 0; d < 40; d++)
        {
            string directory = Directory.CreateDirectory(Path.Combine(rootfs, "small", $"d{d}")).FullName;
            for (int f = 0; f < 100; f++)
            {
                await File.WriteAllTextAsync(Path.Combine(directory, $"f{f}.txt"), $"file {d}/{f}\n" + new string('x', 200 + f));
            }
        }
        await HostTools.RunAsync(umoci, ["repack", "--image", image, bundle]);
        await HostTools.RunAsync(umoci, ["config", "--image", image, "--config.cmd", "/bin/true", "--os", "linux", "--architecture", "amd64"]);
    }

    private static string Ms(List<double> samples) =>
        $"{Percentiles.Of(samples, 50):0} ms / {samples.Min():0} ms / {samples.Max():0} ms";
}
