using FluentAssertions;
using KataAgent.Image.Pull;
using KataAgent.Image.References;
using KataAgent.Kactl.Images;
using Xunit;

namespace KataAgent.Tests.Kactl;

/// <summary>kactl's progress for a stderr that is no terminal: one line per layer phase change, with bytes, time and rate.</summary>
public sealed class PullProgressLinesTests
{
    private const long MiB = 1024 * 1024;

    private static readonly Digest LayerA = Digest.Parse("sha256:9646c0d2a3f1e5b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5");
    private static readonly Digest LayerB = Digest.Parse("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");

    [Fact]
    public void A_download_prints_its_phase_changes_only_with_the_time_and_rate_at_its_end()
    {
        var clock = new ManualClock();
        var lines = new List<string>();
        var progress = new PullProgressLines("pull busybox", lines.Add, clock);

        progress.Report(new PullProgress(LayerA, 0, PullPhase.Waiting, 0, 2 * MiB));
        progress.Report(new PullProgress(LayerA, 0, PullPhase.Downloading, 0, 2 * MiB));
        clock.Advance(TimeSpan.FromSeconds(1));
        progress.Report(new PullProgress(LayerA, 0, PullPhase.Downloading, MiB, 2 * MiB));
        clock.Advance(TimeSpan.FromSeconds(3));
        progress.Report(new PullProgress(LayerA, 0, PullPhase.Downloading, 2 * MiB, 2 * MiB));
        progress.Report(new PullProgress(LayerA, 0, PullPhase.Done, 2 * MiB, 2 * MiB));

        lines.Should().Equal(
            "kactl: pull busybox: layer 1 9646c0d2a3f1: waiting (2.00 MiB)",
            "kactl: pull busybox: layer 1 9646c0d2a3f1: downloading 2.00 MiB",
            "kactl: pull busybox: layer 1 9646c0d2a3f1: downloaded 2.00 MiB in 4.00 s (512 KiB/s)");
    }

    [Fact]
    public void Stored_layers_resumed_downloads_and_unpacking_each_say_so()
    {
        var clock = new ManualClock();
        var lines = new List<string>();
        var progress = new PullProgressLines("run x", lines.Add, clock);

        progress.Report(new PullProgress(LayerB, 1, PullPhase.AlreadyStored, 3 * MiB, 3 * MiB));
        progress.Report(new PullProgress(LayerA, 0, PullPhase.Downloading, 700 * 1024, 2 * MiB));
        progress.Report(new PullProgress(LayerA, 0, PullPhase.Unpacking, 0, 2 * MiB));
        clock.Advance(TimeSpan.FromMilliseconds(500));
        progress.Report(new PullProgress(LayerA, 0, PullPhase.Unpacking, MiB, 2 * MiB));
        progress.Report(new PullProgress(LayerA, 0, PullPhase.Unpacked, 2 * MiB, 2 * MiB));
        progress.Report(new PullProgress(LayerB, 1, PullPhase.Unpacked, 3 * MiB, 3 * MiB));

        lines.Should().Equal(
            "kactl: run x: layer 2 0123456789ab: already stored (3.00 MiB)",
            "kactl: run x: layer 1 9646c0d2a3f1: downloading, resuming at 700 KiB of 2.00 MiB",
            "kactl: run x: layer 1 9646c0d2a3f1: unpacking 2.00 MiB",
            "kactl: run x: layer 1 9646c0d2a3f1: unpacked 2.00 MiB in 0.50 s (4.00 MiB/s)",
            "kactl: run x: layer 2 0123456789ab: unpacked (3.00 MiB)");
    }

    [Fact]
    public async Task Reports_from_many_threads_give_one_line_per_layer_and_phase()
    {
        var lines = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var progress = new PullProgressLines("pull many", lines.Enqueue, new ManualClock());
        const int Layers = 8;

        await Task.WhenAll(Enumerable.Range(0, Layers).Select(layer => Task.Run(() =>
        {
            var digest = Digest.Sha256Of([(byte)layer]);
            for (int step = 0; step <= 100; step++)
            {
                progress.Report(new PullProgress(digest, layer, PullPhase.Downloading, step * 1000, 100_000));
            }
            progress.Report(new PullProgress(digest, layer, PullPhase.Done, 100_000, 100_000));
        })));

        lines.Should().HaveCount(2 * Layers);
        for (int layer = 0; layer < Layers; layer++)
        {
            lines.Where(line => line.StartsWith($"kactl: pull many: layer {layer + 1} ", StringComparison.Ordinal)).Should().HaveCount(2);
        }
    }

    [Theory]
    [InlineData(0, "0 B")]
    [InlineData(812, "812 B")]
    [InlineData(1024, "1.00 KiB")]
    [InlineData(1_084_116, "1.03 MiB")]
    [InlineData(15 * MiB, "15.0 MiB")]
    [InlineData(300 * MiB, "300 MiB")]
    [InlineData(5L * 1024 * MiB, "5.00 GiB")]
    public void Sizes_read_in_binary_units_with_three_digits(long bytes, string text)
    {
        ByteSize.Format(bytes).Should().Be(text);
    }

    [Fact]
    public void A_rate_over_no_time_is_a_dash()
    {
        ByteSize.Rate(MiB, TimeSpan.Zero).Should().Be("-");
        ByteSize.Rate(3 * MiB, TimeSpan.FromSeconds(2)).Should().Be("1.50 MiB/s");
    }
}
