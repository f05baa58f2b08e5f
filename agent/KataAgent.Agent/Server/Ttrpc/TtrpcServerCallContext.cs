using Grpc.Core;
using KataAgent.Protocols.Ttrpc;

namespace KataAgent.Agent.Server.Ttrpc;

/// <summary>
/// A ttrpc call as the generated service bases see a call: the method's gRPC name, the deadline from the envelope's
/// <c>timeout_nano</c>, the call's cancellation (deadline or connection gone), and the envelope's metadata as request
/// headers. ttrpc has no response headers or trailers: what a handler puts there goes nowhere.
/// </summary>
internal sealed class TtrpcServerCallContext(string method, TtrpcCallContext call, string peer) : ServerCallContext
{
    private static readonly AuthContext NoAuthentication = new(null, new Dictionary<string, List<AuthProperty>>());
    private Metadata? _requestHeaders;

    protected override string MethodCore => method;

    protected override string HostCore => "";

    protected override string PeerCore => peer;

    protected override DateTime DeadlineCore => call.Deadline ?? DateTime.MaxValue;

    protected override Metadata RequestHeadersCore => _requestHeaders ??= Headers(call.Metadata);

    protected override CancellationToken CancellationTokenCore => call.CancellationToken;

    protected override Metadata ResponseTrailersCore { get; } = [];

    protected override Status StatusCore { get; set; }

    protected override WriteOptions? WriteOptionsCore { get; set; }

    protected override AuthContext AuthContextCore => NoAuthentication;

    protected override ContextPropagationToken CreatePropagationTokenCore(ContextPropagationOptions? options) =>
        throw new NotSupportedException("ttrpc calls cannot be propagated to gRPC calls");

    protected override Task WriteResponseHeadersAsyncCore(Metadata responseHeaders) => Task.CompletedTask;

    /// <summary>
    /// The envelope's key/value pairs as gRPC metadata. gRPC allows fewer keys than ttrpc (lower-case letters, digits,
    /// <c>-_.</c>; <c>-bin</c> keys carry bytes): a pair gRPC cannot hold is left out rather than failing the call.
    /// </summary>
    private static Metadata Headers(IReadOnlyList<KeyValuePair<string, string>> pairs)
    {
        var headers = new Metadata();
        foreach (var (key, value) in pairs)
        {
            try
            {
                string lower = key.ToLowerInvariant();
                if (lower.EndsWith(Metadata.BinaryHeaderSuffix, StringComparison.Ordinal))
                {
                    headers.Add(lower, System.Text.Encoding.UTF8.GetBytes(value));
                }
                else
                {
                    headers.Add(lower, value);
                }
            }
            catch (ArgumentException)
            {
            }
        }
        return headers;
    }
}
