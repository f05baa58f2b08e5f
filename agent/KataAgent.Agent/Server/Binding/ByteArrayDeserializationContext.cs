using System.Buffers;
using Grpc.Core;

namespace KataAgent.Agent.Server.Binding;

/// <summary>A whole payload in memory, for calling a contextual deserializer outside a call (generated marshallers have no other entry).</summary>
internal sealed class ByteArrayDeserializationContext(ReadOnlyMemory<byte> payload) : DeserializationContext
{
    public ByteArrayDeserializationContext(byte[] payload)
        : this((ReadOnlyMemory<byte>)payload)
    {
    }

    public override int PayloadLength => payload.Length;

    public override byte[] PayloadAsNewBuffer() => payload.ToArray();

    public override ReadOnlySequence<byte> PayloadAsReadOnlySequence() => new(payload);
}
