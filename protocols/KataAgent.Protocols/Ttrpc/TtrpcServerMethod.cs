using Google.Protobuf;

namespace KataAgent.Protocols.Ttrpc;

/// <summary>One registered method: a unary handler, or a streaming one with its kind.</summary>
internal sealed class TtrpcServerMethod
{
    private TtrpcServerMethod(
        Func<ReadOnlyMemory<byte>, TtrpcCallContext, Task<ByteString>>? unary,
        TtrpcStreamKind kind,
        Func<TtrpcServerStream, TtrpcCallContext, Task<ByteString?>>? streaming)
    {
        Unary = unary;
        Kind = kind;
        Streaming = streaming;
    }

    /// <summary>The handler of a unary method; null for a streaming one.</summary>
    public Func<ReadOnlyMemory<byte>, TtrpcCallContext, Task<ByteString>>? Unary { get; }

    /// <summary>The stream kind of a streaming method (meaningless for a unary one).</summary>
    public TtrpcStreamKind Kind { get; }

    /// <summary>The handler of a streaming method; null for a unary one.</summary>
    public Func<TtrpcServerStream, TtrpcCallContext, Task<ByteString?>>? Streaming { get; }

    public static TtrpcServerMethod ForUnary(Func<ReadOnlyMemory<byte>, TtrpcCallContext, Task<ByteString>> handler) =>
        new(handler, default, null);

    public static TtrpcServerMethod ForStream(TtrpcStreamKind kind, Func<TtrpcServerStream, TtrpcCallContext, Task<ByteString?>> handler) =>
        new(null, kind, handler);
}
