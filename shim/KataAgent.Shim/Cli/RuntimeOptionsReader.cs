using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using KataAgent.Protocols.Containerd.RuntimeOptions;

namespace KataAgent.Shim.Cli;

/// <summary>
/// The runtime options containerd writes on <c>start</c>'s stdin: a serialized <c>google.protobuf.Any</c>, or
/// nothing. CRI gives a runtime other than runc a <c>runtimeoptions.v1.Options</c> (its handler's
/// <c>ConfigPath</c>); <c>ctr run --runtime-config-path</c> does the same.
/// </summary>
internal static class RuntimeOptionsReader
{
    /// <summary>The bare type URL containerd 1.6 writes (typeurl v1: no <c>type.googleapis.com/</c>).</summary>
    public const string TypeUrl = "runtimeoptions.v1.Options";

    /// <summary>The options in <paramref name="bytes"/>; null when there are none or they are of another runtime's type.</summary>
    /// <exception cref="ShimUsageException">The bytes are no Any, or its value is no Options.</exception>
    public static Options? Parse(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
            return null;
        try
        {
            var any = Any.Parser.ParseFrom(bytes);
            string typeUrl = any.TypeUrl;
            // typeurl v2 (containerd 1.7) may send the prefixed form too.
            if (typeUrl != TypeUrl && !typeUrl.EndsWith("/" + TypeUrl, StringComparison.Ordinal))
                return null;
            return Options.Parser.ParseFrom(any.Value);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new ShimUsageException($"the runtime options on stdin are not a protobuf Any of {TypeUrl}: {e.Message}");
        }
    }

    /// <summary>Reads stdin to its end unless it is a terminal (a person running the shim by hand).</summary>
    public static Options? ReadStdin(Stream stdin, bool isTerminal)
    {
        if (isTerminal)
            return null;
        using var buffer = new MemoryStream();
        stdin.CopyTo(buffer);
        return Parse(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
    }
}
