using System.Net;
using System.Net.Http.Headers;
using System.Security.Authentication;

namespace KataAgent.Image.Registry;

public sealed partial class RegistryClient
{
    /// <summary>
    /// Sends a GET to the registry and returns a 2xx response (the caller disposes it). Connection errors, stalls,
    /// 429 and 5xx are retried <see cref="RegistryClientOptions.Attempts"/> times with exponential backoff, then
    /// <see cref="ImageErrorKind.Unavailable"/>; any other error status becomes the <see cref="ImageException"/> its
    /// error body and status say.
    /// </summary>
    private async Task<HttpResponseMessage> SendAsync(
        RequestTarget target,
        string pathAndQuery,
        Action<HttpRequestMessage>? configure,
        CancellationToken cancellationToken)
    {
        var start = new Uri(BaseUri(target.Registry, target.ApiHost), pathAndQuery);
        for (int attempt = 1; ; attempt++)
        {
            HttpResponseMessage response;
            try
            {
                response = await SendFollowingAsync(target, start, configure, cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException e) when (e.HttpRequestError == HttpRequestError.SecureConnectionError || e.InnerException is AuthenticationException)
            {
                throw new ImageException(ImageErrorKind.Unavailable,
                    $"{target.What}: no trusted TLS connection to registry {target.Registry} ({(Options.CaBundlePath is null ? "system CA store" : "CA bundle " + Options.CaBundlePath)}): {Innermost(e).Message}", e);
            }
            catch (Exception e) when (IsTransient(e, cancellationToken))
            {
                if (attempt >= Options.Attempts)
                    throw Unreachable(target, attempt, e);
                await Task.Delay(Backoff(attempt, null), cancellationToken).ConfigureAwait(false);
                continue;
            }

            if (response.IsSuccessStatusCode)
                return response;
            using (response)
            {
                if (IsRetryableStatus(response.StatusCode) && attempt < Options.Attempts)
                {
                    await Task.Delay(Backoff(attempt, response.Headers.RetryAfter), cancellationToken).ConfigureAwait(false);
                    continue;
                }
                throw await ErrorFromAsync(target, response, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>One attempt: follows redirects by hand and answers one 401 challenge per hop.</summary>
    private async Task<HttpResponseMessage> SendFollowingAsync(
        RequestTarget target,
        Uri start,
        Action<HttpRequestMessage>? configure,
        CancellationToken cancellationToken)
    {
        var uri = start;
        bool challenged = false;
        for (int hops = 0; ; )
        {
            // Credentials go only to the registry's own host; a redirect to a CDN or storage host gets none.
            bool registryHost = string.Equals(Authority(uri), target.ApiHost, StringComparison.OrdinalIgnoreCase);
            using var request = new HttpRequestMessage(HttpMethod.Get, uri);
            configure?.Invoke(request);
            if (registryHost)
                request.Headers.Authorization = await AuthorizationAsync(target, cancellationToken).ConfigureAwait(false);

            var response = await SendWithStallTimeoutAsync(request, cancellationToken).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            if (status is 301 or 302 or 303 or 307 or 308 && response.Headers.Location is { } location)
            {
                response.Dispose();
                if (++hops > MaxRedirects)
                    throw new ImageException(ImageErrorKind.Unavailable, $"{target.What}: registry {target.Registry} redirected more than {MaxRedirects} times");
                var next = location.IsAbsoluteUri ? location : new Uri(uri, location);
                if (!MayRedirect(uri, next))
                    throw new ImageException(ImageErrorKind.Unavailable, $"{target.What}: registry {target.Registry} redirected to {next.Scheme}://{Authority(next)}, which is not HTTPS and not named as a plain-HTTP registry");
                uri = next;
                challenged = false;
                continue;
            }
            if (response.StatusCode == HttpStatusCode.Unauthorized && registryHost && !challenged)
            {
                var challenges = response.Headers.WwwAuthenticate.Select(h => h.ToString()).SelectMany(AuthChallenge.Parse).ToList();
                response.Dispose();
                await AnswerChallengeAsync(target, challenges, cancellationToken).ConfigureAwait(false);
                challenged = true;
                continue;
            }
            return response;
        }
    }

    /// <summary>
    /// HTTPS anywhere; plain HTTP only to a host named in <see cref="RegistryClientOptions.PlainHttpRegistries"/> or
    /// within the plain-HTTP host the request is already on, so a redirect never downgrades a connection.
    /// </summary>
    private bool MayRedirect(Uri from, Uri to) =>
        to.Scheme == Uri.UriSchemeHttps
        || (to.Scheme == Uri.UriSchemeHttp && (IsPlain(Authority(to)) || (from.Scheme == Uri.UriSchemeHttp && Authority(from) == Authority(to))));

    private async Task<HttpResponseMessage> SendWithStallTimeoutAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using var stall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        stall.CancelAfter(StallTimeout);
        try
        {
            return await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, stall.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"no response from {request.RequestUri!.Scheme}://{Authority(request.RequestUri)} within {StallTimeout.TotalSeconds:0} s", e);
        }
    }

    /// <summary>True for failures worth another attempt: the connection, not the request, failed.</summary>
    private static bool IsTransient(Exception e, CancellationToken cancellationToken) =>
        !cancellationToken.IsCancellationRequested && e is HttpRequestException or IOException or TimeoutException;

    private static bool IsRetryableStatus(HttpStatusCode status) =>
        status == HttpStatusCode.TooManyRequests || (int)status >= 500;

    /// <summary>The wait before attempt <paramref name="attempt"/> + 1: the first backoff doubled per attempt, or what Retry-After asks (capped).</summary>
    private TimeSpan Backoff(int attempt, RetryConditionHeaderValue? retryAfter)
    {
        var cap = TimeSpan.FromSeconds(30);
        if (retryAfter?.Delta is { } delta)
            return delta < cap ? delta : cap;
        if (retryAfter?.Date is { } date)
        {
            var wait = date - DateTimeOffset.UtcNow;
            return wait <= TimeSpan.Zero ? TimeSpan.Zero : wait < cap ? wait : cap;
        }
        var backoff = Options.FirstBackoff * Math.Pow(2, attempt - 1);
        return backoff < cap ? backoff : cap;
    }

    private static ImageException Unreachable(RequestTarget target, int attempts, Exception e) =>
        new(ImageErrorKind.Unavailable, $"{target.What}: registry {target.Registry} is unreachable after {attempts} attempt(s): {Innermost(e).Message}", e);

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is not null)
            e = e.InnerException;
        return e;
    }
}
