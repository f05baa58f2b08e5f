using System.Net;
using System.Text;
using System.Text.Json;

namespace KataAgent.Image.Registry;

public sealed partial class RegistryClient
{
    /// <summary>
    /// The <see cref="ImageException"/> for an error response: the kind from the registry's error code when it sent
    /// one (<c>{"errors":[{"code","message"}]}</c>), else from the status; the message names what was asked for.
    /// </summary>
    private async Task<ImageException> ErrorFromAsync(RequestTarget target, HttpResponseMessage response, CancellationToken cancellationToken)
    {
        RegistryError? first = null;
        try
        {
            var body = await ReadLimitedAsync(response.Content, 64 << 10, target, cancellationToken).ConfigureAwait(false);
            if (body.Length > 0 && body[0] == (byte)'{')
                first = JsonSerializer.Deserialize(body, RegistryJsonContext.Default.RegistryErrorResponse)?.Errors?.FirstOrDefault();
        }
        catch (Exception e) when (e is JsonException or IOException or HttpRequestException or ImageException)
        {
            // The status alone still says enough.
        }

        var status = (int)response.StatusCode;
        var kind = KindOf(first?.Code, response.StatusCode);
        var detail = new StringBuilder($"{status} {response.ReasonPhrase}");
        if (first?.Code is not null)
            detail.Append(": ").Append(first.Code);
        if (!string.IsNullOrEmpty(first?.Message))
            detail.Append(": ").Append(first.Message);
        if (kind == ImageErrorKind.Unauthorized)
        {
            detail.Append(Credentials(target.Registry) is { } user
                ? $"; access denied to user '{user.Username}'"
                : "; access denied, and no credentials are configured for it");
        }
        return new ImageException(kind, $"{target.What}: registry {target.Registry} answered {detail}");
    }

    /// <summary>The kind for a distribution error code (spec "Error Codes"), else for the HTTP status.</summary>
    internal static ImageErrorKind KindOf(string? code, HttpStatusCode status) => code switch
    {
        "BLOB_UNKNOWN" or "MANIFEST_UNKNOWN" or "NAME_UNKNOWN" or "MANIFEST_BLOB_UNKNOWN" => ImageErrorKind.NotFound,
        "UNAUTHORIZED" or "DENIED" => ImageErrorKind.Unauthorized,
        "DIGEST_INVALID" or "SIZE_INVALID" => ImageErrorKind.DigestMismatch,
        "NAME_INVALID" or "TAG_INVALID" or "MANIFEST_INVALID" or "MANIFEST_UNVERIFIED" or "BLOB_UPLOAD_INVALID" or "RANGE_INVALID" => ImageErrorKind.InvalidInput,
        "UNSUPPORTED" => ImageErrorKind.Unsupported,
        "TOOMANYREQUESTS" => ImageErrorKind.Unavailable,
        _ => status switch
        {
            HttpStatusCode.NotFound => ImageErrorKind.NotFound,
            HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => ImageErrorKind.Unauthorized,
            HttpStatusCode.TooManyRequests => ImageErrorKind.Unavailable,
            _ when (int)status >= 500 => ImageErrorKind.Unavailable,
            _ => ImageErrorKind.InvalidInput,
        },
    };

    /// <summary>Reads a body whole, refusing one longer than <paramref name="limit"/> (a manifest, a token, an error).</summary>
    private static async Task<byte[]> ReadLimitedAsync(
        HttpContent content, int limit, RequestTarget target, CancellationToken cancellationToken, ImageErrorKind overflow = ImageErrorKind.InvalidInput)
    {
        if (content.Headers.ContentLength is long declared && declared > limit)
            throw new ImageException(overflow, $"{target.What}: registry {target.Registry} sent {declared} bytes, more than the {limit} allowed");
        await using var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        using var buffer = new MemoryStream();
        var chunk = new byte[16384];
        while (true)
        {
            int read = await ReadWithStallTimeoutAsync(stream, chunk, cancellationToken).ConfigureAwait(false);
            if (read == 0)
                break;
            if (buffer.Length + read > limit)
                throw new ImageException(overflow, $"{target.What}: registry {target.Registry} sent more than the {limit} bytes allowed");
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    /// <summary>One read of a body that fails with <see cref="TimeoutException"/> when no byte comes for <see cref="StallTimeout"/>.</summary>
    private static async Task<int> ReadWithStallTimeoutAsync(Stream stream, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        using var stall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        stall.CancelAfter(StallTimeout);
        try
        {
            return await stream.ReadAsync(buffer, stall.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"no bytes for {StallTimeout.TotalSeconds:0} s", e);
        }
    }
}
