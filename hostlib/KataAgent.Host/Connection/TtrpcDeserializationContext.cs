using System.Buffers;
using Grpc.Core;

namespace KataAgent.Host;

/// <summary>One received ttrpc message, handed to a gRPC marshaller as a gRPC channel would hand it.</summary>
internal sealed class TtrpcDeserializationContext(ReadOnlyMemory<byte> payload) : DeserializationContext
{
    public override int PayloadLength => payload.Length;

    public override byte[] PayloadAsNewBuffer() => payload.ToArray();

    public override ReadOnlySequence<byte> PayloadAsReadOnlySequence() => new(payload);
}
