using System.Diagnostics;
using System.Security.Cryptography;
using CliWrap;
using CliWrap.EventStream;
using KataAgent.Testing;
using KataAgent.Testing.Images;
using KataAgent.Testing.Registry;

namespace KataAgent.Bench.Images;

/// <summary>
/// Guest pull against host pull for <c>kactl run IMAGE</c>, launch to workload: from starting out/kactl to the first
/// line the container writes, the published binaries as a user runs them. Host pull: <c>--pull missing</c> into an
/// empty store each run (kactl pulls and unpacks on the host, then boots out/initrd.img and shares the rootfs over
/// virtio-fs). Guest pull: <c>--pull guest</c> (kactl boots out/initrd-guest-pull.img and the guest pulls and
/// unpacks into its memory). Both boot in the same pod netns leading to one local registry (plain HTTP), so the
/// only difference is where the image is pulled. Images: the tests' busybox app image (one ~1 MiB layer) and the
/// same with a 16 MiB incompressible layer on top. Runs alternate. Under TCG the guest's gunzip and sha256 run
/// emulated, which a KVM host would not pay.
/// </summary>
internal static class KactlRunPullBench
{
    private const int Runs = 3;

    private const string BigTag = "app-16m";

    public static async Task<List<(string Name, string Value, string Note)>> RunAsync(string root)
    {
        string kactl = Path.Combine(root, "out", "kactl");
        using var scratch = new TempDirectory();
        string layout = Path.Combine(scratch.Path, "layout");
        await BusyboxAppImage.BuildAsync(layout, Directory.CreateDirectory(Path.Combine(scratch.Path, "build")).FullName);
        await BuildBigImageAsync(layout, Path.Combine(scratch.Path, "big"));

        await using var registry = await TestRegistry.StartAsync();
        using var network = new RegistryPodNetwork(registry);
        var rows = new List<(string Name, string Value, string Note)>();
        foreach (var (tag, what) in new[] { (BusyboxAppImage.Tag, "busybox app (1 layer, ~1 MiB gzip)"), (BigTag, "app + 16 MiB incompressible layer") })
        {
            string reference = await registry.PushAsync($"oci:{layout}:{tag}", $"bench/{tag}:v1");
            var host = new List<double>();
            var guest = new List<double>();
            for (int i = 0; i < Runs; i++)
            {
                host.Add(await LaunchAsync(kactl, scratch.Path, ["run", "-q", "--netns", network.PodPath, "--plain-http", registry.Host, "--pull", "missing", reference]));
                guest.Add(await LaunchAsync(kactl, scratch.Path, ["run", "-q", "--netns", network.PodPath, "--plain-http", registry.Host, "--pull", "guest", reference]));
            }
            rows.Add(($"kactl run {what}, host pull: launch to workload (p50 / min / max)", Ms(host), $"{Runs} runs alternated with guest pull; `--pull missing` into an empty store each run, virtio-fs rootfs"));
            rows.Add(($"kactl run {what}, guest pull: launch to workload (p50 / min / max)", Ms(guest), "`--pull guest`: out/initrd-guest-pull.img, layers and rootfs in guest memory"));
            rows.Add(($"kactl run {what}: ratio guest / host pull (p50)", $"{Percentiles.Of(guest, 50) / Percentiles.Of(host, 50):0.00}×", "same pod netns and registry; TCG emulates the guest's gunzip and sha256"));
        }
        return rows;
    }

    /// <summary>Runs kactl with a fresh store and run directory; the time from its start to the container's first stdout line.</summary>
    private static async Task<double> LaunchAsync(string kactl, string scratch, string[] arguments)
    {
        string run = Directory.CreateDirectory(Path.Combine(scratch, "run-" + Guid.NewGuid().ToString("N")[..8])).FullName;
        try
        {
            using var safety = new CancellationTokenSource(TimeSpan.FromMinutes(10));
            var command = Cli.Wrap(kactl).WithArguments(arguments)
                .WithEnvironmentVariables(env =>
                {
                    env.Set("KACTL_IMAGE_STORE", Path.Combine(run, "store"));
                    env.Set("KACTL_RUN_DIR", Path.Combine(run, "run"));
                    env.Set("KATA_AGENT_ADDR", null);
                })
                .WithValidation(CommandResultValidation.None);
            long start = 0;
            double? first = null;
            var stderr = new System.Text.StringBuilder();
            int exit = -1;
            await foreach (var e in command.ListenAsync(safety.Token))
            {
                switch (e)
                {
                    case StartedCommandEvent:
                        start = Stopwatch.GetTimestamp();
                        break;
                    case StandardOutputCommandEvent when first is null:
                        first = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                        break;
                    case StandardErrorCommandEvent line:
                        stderr.AppendLine(line.Text);
                        break;
                    case ExitedCommandEvent exited:
                        exit = exited.ExitCode;
                        break;
                }
            }
            if (exit != 0 || first is null)
            {
                throw new InvalidOperationException($"kactl {string.Join(' ', arguments)} exited {exit} (output seen: {first is not null}): {stderr}");
            }
            return first.Value;
        }
        finally
        {
            Directory.Delete(run, recursive: true);
        }
    }

    /// <summary>Tag <see cref="BigTag"/>: the app image with one more layer of 16 MiB of random bytes (gzip cannot shrink it).</summary>
    private static async Task BuildBigImageAsync(string layout, string bundle)
    {
        string umoci = HostTools.Require("umoci", "umoci");
        await HostTools.RunAsync(umoci, ["unpack", "--image", $"{layout}:{BusyboxAppImage.Tag}", bundle]);
        string data = Directory.CreateDirectory(Path.Combine(bundle, "rootfs", "data")).FullName;
        for (int i = 0; i < 4; i++)
        {
            await File.WriteAllBytesAsync(Path.Combine(data, $"blob{i}"), RandomNumberGenerator.GetBytes(4 << 20));
        }
        await HostTools.RunAsync(umoci, ["repack", "--image", $"{layout}:{BigTag}", bundle]);
        Directory.Delete(bundle, recursive: true);
    }

    private static string Ms(List<double> samples) =>
        $"{Percentiles.Of(samples, 50):0} ms / {samples.Min():0} ms / {samples.Max():0} ms";
}
