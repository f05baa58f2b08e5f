using System.IO.Compression;
using FluentAssertions;
using KataAgent.Rootfs.Compression;
using Xunit;

namespace KataAgent.Rootfs.Tests.Compression;

public sealed class InitrdCompressorTests
{
    [Fact]
    public void Gzip_output_has_the_gzip_magic_and_round_trips()
    {
        byte[] data = Enumerable.Range(0, 100_000).Select(i => (byte)(i % 251)).ToArray();
        var output = new MemoryStream();
        using (var stream = InitrdCompressor.Wrap(output, InitrdCompression.Gzip))
        {
            stream.Write(data);
        }
        byte[] compressed = output.ToArray();

        compressed[..3].Should().Equal(0x1F, 0x8B, 0x08); // gzip, deflate: what the kernel's RD_GZIP reads
        compressed.Length.Should().BeLessThan(data.Length / 10);
        using var inflate = new GZipStream(new MemoryStream(compressed), CompressionMode.Decompress);
        var plain = new MemoryStream();
        inflate.CopyTo(plain);
        plain.ToArray().Should().Equal(data);
    }

    [Fact]
    public void Gzip_output_is_reproducible()
    {
        static byte[] Compress()
        {
            var output = new MemoryStream();
            using (var stream = InitrdCompressor.Wrap(output, InitrdCompression.Gzip))
            {
                stream.Write("070701 the same bytes"u8);
            }
            return output.ToArray();
        }

        Compress().Should().Equal(Compress());
    }

    [Theory]
    [InlineData("gzip", InitrdCompression.Gzip)]
    [InlineData("GZ", InitrdCompression.Gzip)]
    [InlineData("none", InitrdCompression.None)]
    public void Names_parse(string name, InitrdCompression expected) => InitrdCompressor.Parse(name).Should().Be(expected);

    [Theory]
    [InlineData("lz4", "not supported")]
    [InlineData("brotli", "unknown")]
    public void Unsupported_names_say_so(string name, string message) =>
        FluentActions.Invoking(() => InitrdCompressor.Parse(name)).Should().Throw<ArgumentException>().WithMessage($"*{message}*");
}
