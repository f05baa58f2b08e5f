using System.Text.Json;
using KataAgent.Image;
using KataAgent.Protocols.Guest.ImagePull;

namespace KataAgent.ImagePull;

/// <summary>
/// Reads the helper's request field by field, not by the serializer: with source generation a missing or null
/// optional field came out as null in a property declared non-null (<c>plainHttpRegistries</c>), and the helper
/// aborted on it (exit 134); a missing required one was an exception whose text, with the trimmed resource strings
/// of this AOT binary, was a resource key. Here a missing or null optional field takes its default, and anything
/// else that is not what the contract says is <see cref="ImageErrorKind.InvalidInput"/> naming the field
/// (<c>plainHttpRegistries[1]</c>, <c>credentials.password</c>). Unknown fields are ignored, as the serializer
/// would, so a newer agent's request still reads.
/// </summary>
internal static class GuestPullRequestReader
{
    /// <summary>A request is a few KiB (a CA bundle at most a few hundred): more is not a request.</summary>
    internal const int MaxRequestBytes = 4 << 20;

    private static readonly string[] Fields =
        ["image", "platform", "credentials", "registryAuthFile", "caPem", "plainHttpRegistries", "storeDirectory", "rootfs", "entrypoint", "args", "env", "user"];

    private static readonly string[] CredentialFields = ["username", "password", "identityToken"];

    /// <summary>Reads <paramref name="input"/> to its end and parses it.</summary>
    /// <exception cref="ImageException">InvalidInput naming the field, or saying where the JSON breaks.</exception>
    public static async Task<GuestPullRequest> ReadAsync(Stream input, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        byte[] chunk = new byte[64 * 1024];
        int read;
        while ((read = await input.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > MaxRequestBytes)
            {
                throw Invalid($"the request is larger than {MaxRequestBytes} bytes");
            }
            buffer.Write(chunk, 0, read);
        }
        return Parse(buffer.GetBuffer().AsMemory(0, (int)buffer.Length));
    }

    /// <summary>Parses one request.</summary>
    /// <exception cref="ImageException">InvalidInput naming the field, or saying where the JSON breaks.</exception>
    public static GuestPullRequest Parse(ReadOnlyMemory<byte> json)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException e)
        {
            // The exception's text is a resource key in this binary; the position is what helps.
            throw Invalid($"the request is not JSON: it breaks at line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}");
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw Invalid($"the request is {Describe(root)}, not an object");
            }
            var fields = FieldsOf(root, "", Fields);
            var request = new GuestPullRequest
            {
                Image = RequiredString(fields, "image"),
                Platform = OptionalString(fields, "platform"),
                Credentials = CredentialsOf(fields),
                RegistryAuthFile = OptionalString(fields, "registryAuthFile"),
                CaPem = OptionalString(fields, "caPem"),
                PlainHttpRegistries = OptionalStrings(fields, "plainHttpRegistries") ?? [],
                StoreDirectory = RequiredString(fields, "storeDirectory"),
                Rootfs = RequiredString(fields, "rootfs"),
                Entrypoint = OptionalStrings(fields, "entrypoint"),
                Args = OptionalStrings(fields, "args"),
                Env = OptionalStrings(fields, "env"),
                User = OptionalString(fields, "user"),
            };
            RequireAbsolute(request.StoreDirectory, "storeDirectory");
            RequireAbsolute(request.Rootfs, "rootfs");
            if (request.RegistryAuthFile is { } authFile)
            {
                RequireAbsolute(authFile, "registryAuthFile");
            }
            return request;
        }
    }

    /// <summary>The known fields of <paramref name="element"/> by name; a field given twice is ambiguous and refused.</summary>
    private static Dictionary<string, JsonElement> FieldsOf(JsonElement element, string prefix, string[] known)
    {
        var fields = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var property in element.EnumerateObject())
        {
            if (!known.Contains(property.Name, StringComparer.Ordinal))
            {
                continue;
            }
            if (!fields.TryAdd(prefix + property.Name, property.Value))
            {
                throw Invalid($"{prefix}{property.Name} is given twice");
            }
        }
        return fields;
    }

    private static GuestPullCredentials? CredentialsOf(Dictionary<string, JsonElement> fields)
    {
        if (!fields.TryGetValue("credentials", out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw Invalid($"credentials is {Describe(value)}, not an object");
        }
        var inner = FieldsOf(value, "credentials.", CredentialFields);
        string? token = OptionalString(inner, "credentials.identityToken");
        return new GuestPullCredentials(
            OptionalString(inner, "credentials.username") ?? "",
            OptionalString(inner, "credentials.password") ?? "",
            string.IsNullOrEmpty(token) ? null : token);
    }

    private static string RequiredString(Dictionary<string, JsonElement> fields, string name) =>
        fields.TryGetValue(name, out var value)
            ? value.ValueKind == JsonValueKind.String ? value.GetString()! : throw Invalid($"{name} is {Describe(value)}, not a string")
            : throw Invalid($"{name} is missing");

    private static string? OptionalString(Dictionary<string, JsonElement> fields, string name) =>
        !fields.TryGetValue(name, out var value) || value.ValueKind == JsonValueKind.Null ? null
        : value.ValueKind == JsonValueKind.String ? value.GetString()
        : throw Invalid($"{name} is {Describe(value)}, not a string");

    private static string[]? OptionalStrings(Dictionary<string, JsonElement> fields, string name)
    {
        if (!fields.TryGetValue(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        if (value.ValueKind != JsonValueKind.Array)
        {
            throw Invalid($"{name} is {Describe(value)}, not an array of strings");
        }
        var strings = new string[value.GetArrayLength()];
        int i = 0;
        foreach (var item in value.EnumerateArray())
        {
            strings[i] = item.ValueKind == JsonValueKind.String ? item.GetString()! : throw Invalid($"{name}[{i}] is {Describe(item)}, not a string");
            i++;
        }
        return strings;
    }

    private static void RequireAbsolute(string path, string field)
    {
        if (string.IsNullOrEmpty(path) || !Path.IsPathFullyQualified(path) || path.Contains('\0') || Path.GetFullPath(path) != path.TrimEnd('/'))
        {
            throw Invalid($"{field} '{path}' is not a normalised absolute path");
        }
    }

    private static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Null => "null",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Number => "a number",
        JsonValueKind.String => "a string",
        JsonValueKind.Array => "an array",
        _ => "an object",
    };

    private static ImageException Invalid(string message) => new(ImageErrorKind.InvalidInput, message);
}
