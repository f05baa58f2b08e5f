using System.Buffers;
using Grpc.Core;

namespace KataAgent.Host;

/// <summary>
/// Where a gRPC marshaller writes one message for ttrpc. The generated marshallers are contextual only (their plain
/// <c>Serializer</c> throws), so the invoker gives them this context, as a gRPC channel gives them its own.
/// </summary>
internal sealed class TtrpcSerializationContext : SerializationContext
{
    private ArrayBufferWriter<byte>? _writer;
    private byte[]? _whole;

    /// <summary>The message's bytes, once the marshaller completed.</summary>
    public ReadOnlyMemory<byte> Payload => _whole ?? _writer?.WrittenMemory
        ?? throw new InvalidOperationException("the marshaller wrote no message");

    public override void Complete(byte[] payload) => _whole = payload;

    public override IBufferWriter<byte> GetBufferWriter() => _writer ??= new ArrayBufferWriter<byte>();

    public override void SetPayloadLength(int payloadLength) => _writer ??= new ArrayBufferWriter<byte>(Math.Max(payloadLength, 1));

    public override void Complete()
    {
        _writer ??= new ArrayBufferWriter<byte>();
    }
}
