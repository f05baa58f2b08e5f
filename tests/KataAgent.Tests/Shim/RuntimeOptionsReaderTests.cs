using FluentAssertions;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using KataAgent.Shim.Cli;
using Xunit;

namespace KataAgent.Tests.Shim;

/// <summary>The runtime options containerd writes on start's stdin.</summary>
public sealed class RuntimeOptionsReaderTests
{
    [Fact]
    public void The_bytes_containerd_1_6_sent_give_the_config_path()
    {
        // Captured from containerd 1.6.20 (reference §2.2 [V]): Any{type_url, value=Options{config_path}}.
        byte[] captured = Convert.FromHexString(
            "0a19" + Convert.ToHexString("runtimeoptions.v1.Options"u8) + "1215" + "1213" + Convert.ToHexString("/etc/probe/cfg.toml"u8));

        RuntimeOptionsReader.Parse(captured)!.ConfigPath.Should().Be("/etc/probe/cfg.toml");
    }

    [Fact]
    public void Nothing_on_stdin_is_no_options()
    {
        RuntimeOptionsReader.Parse([]).Should().BeNull();
        RuntimeOptionsReader.ReadStdin(new MemoryStream(), isTerminal: false).Should().BeNull();
    }

    [Fact]
    public void A_terminal_is_not_read()
    {
        RuntimeOptionsReader.ReadStdin(new NeverEndingStream(), isTerminal: true).Should().BeNull();
    }

    [Fact]
    public void Another_runtimes_options_are_ignored()
    {
        var any = new Any { TypeUrl = "containerd.runc.v1.Options", Value = ByteString.CopyFromUtf8("\x08\x01") };

        RuntimeOptionsReader.Parse(any.ToByteArray()).Should().BeNull();
    }

    [Fact]
    public void The_prefixed_type_url_of_typeurl_v2_is_accepted()
    {
        var options = new KataAgent.Protocols.Containerd.RuntimeOptions.Options { ConfigPath = "/etc/kataagent/c.json" };
        var any = Any.Pack(options);

        any.TypeUrl.Should().Be("type.googleapis.com/runtimeoptions.v1.Options");
        RuntimeOptionsReader.Parse(any.ToByteArray())!.ConfigPath.Should().Be("/etc/kataagent/c.json");
    }

    [Fact]
    public void Bytes_that_are_no_any_are_refused()
    {
        var act = () => RuntimeOptionsReader.Parse([0xff, 0xff, 0xff]);

        act.Should().Throw<ShimUsageException>().WithMessage("the runtime options on stdin are not a protobuf Any of runtimeoptions.v1.Options*");
    }

    private sealed class NeverEndingStream : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new InvalidOperationException("a terminal must not be read");
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
