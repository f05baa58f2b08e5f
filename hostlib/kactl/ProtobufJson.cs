using Google.Protobuf;
using Google.Protobuf.Reflection;
using KataAgent.Protocols.Agent;

namespace KataAgent.Kactl;

/// <summary>Protobuf JSON (proto3 canonical mapping) for requests and responses.</summary>
public static class ProtobufJson
{
    private static readonly TypeRegistry Registry = TypeRegistry.FromFiles(AgentReflection.Descriptor, HealthReflection.Descriptor);

    // Unknown fields are an error: a typo in a field name should not silently send an empty request.
    private static readonly JsonParser Parser = new(JsonParser.Settings.Default.WithTypeRegistry(Registry).WithIgnoreUnknownFields(false));

    // Default values too, so that an empty response prints {} and zero fields are visible.
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default
        .WithTypeRegistry(Registry)
        .WithFormatDefaultValues(true)
        .WithIndentation("  "));

    /// <summary>Parses <paramref name="json"/> as a <paramref name="type"/> message.</summary>
    /// <exception cref="KactlException">The text is not valid JSON for that message (exit 2).</exception>
    public static IMessage Parse(string json, MessageDescriptor type, string rpcName)
    {
        try
        {
            return Parser.Parse(json, type);
        }
        catch (Exception e) when (e is InvalidProtocolBufferException or InvalidJsonException or FormatException or InvalidOperationException or ArgumentException or OverflowException)
        {
            throw new KactlException(ExitCodes.Usage, $"invalid JSON for {rpcName} request ({type.FullName}): {OneLine(e.Message)}", e);
        }
    }

    /// <summary>Formats <paramref name="message"/> as indented JSON.</summary>
    public static string Format(IMessage message) => Formatter.Format(message);

    private static string OneLine(string text) => string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
