using System.Buffers;
using Grpc.Core;

namespace KataAgent.Agent.Server.Binding;

/// <summary>A whole payload in memory, for calling a contextual deserializer outside a call (generated marshallers have no other entry).</summary>
internal sealed class ByteArrayDeserializationContext(byte[] payload) : DeserializationContext
{
    public override int PayloadLength => payload.Length;

    public override byte[] PayloadAsNewBuffer() => (byte[])payload.Clone();

    public override ReadOnlySequence<byte> PayloadAsReadOnlySequence() => new(payload);
}
