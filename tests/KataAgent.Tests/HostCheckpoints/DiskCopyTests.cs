using FluentAssertions;
using KataAgent.Host.Checkpoints;
using KataAgent.Testing;
using Xunit;

namespace KataAgent.Tests.HostCheckpoints;

/// <summary>A disk image's copy is the same bytes, with the source's zero blocks left as holes when it is not reflinked.</summary>
public sealed class DiskCopyTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>The bytes the filesystem allocated to <paramref name="path"/> (stat's %b blocks of 512).</summary>
    private static async Task<long> AllocatedBytesAsync(string path)
    {
        using var stat = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("stat", ["-c", "%b", path]) { RedirectStandardOutput = true })!;
        string blocks = await stat.StandardOutput.ReadToEndAsync();
        await stat.WaitForExitAsync();
        return long.Parse(blocks.Trim(), System.Globalization.CultureInfo.InvariantCulture) * 512;
    }

    [Fact]
    public async Task A_copy_has_the_same_bytes_and_length_and_its_zero_blocks_take_no_space()
    {
        string source = _temp.File("source.img");
        await using (var stream = File.Create(source))
        {
            stream.SetLength(64L * 1024 * 1024);
            stream.Position = 1024 * 1024;
            stream.Write("start"u8);
            stream.Position = 40L * 1024 * 1024;
            stream.Write("middle"u8);
        }
        string copy = _temp.File("copy.img");

        bool reflinked = await DiskCopy.CopyAsync(source, copy, null, CancellationToken.None);

        new FileInfo(copy).Length.Should().Be(new FileInfo(source).Length);
        File.ReadAllBytes(copy).AsSpan().SequenceEqual(File.ReadAllBytes(source)).Should().BeTrue();
        if (!reflinked)
        {
            (await AllocatedBytesAsync(copy)).Should().BeLessThan(1024 * 1024, "the 64 MiB of zeros stay holes");
        }
        var again = () => DiskCopy.CopyAsync(source, copy, null, CancellationToken.None);
        await again.Should().ThrowAsync<IOException>("a copy never overwrites");
    }
}
