using System.Text.Json;
using KataAgent.Agent.Errors;
using KataAgent.Agent.Processes;
using KataAgent.Protocols.Guest.ImagePull;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Images;

/// <summary>
/// Runs the guest pull helper (<c>kata-image-pull</c>) for one pull: the request as JSON on its stdin (credentials
/// never on its command line), the result as JSON on its stdout. The agent keeps serving whatever the helper does:
/// absent, crashing, hanging (killed at the deadline) or failing are all answered as errors.
/// </summary>
internal sealed class GuestPullRunner(ToolRunner tools, string helperPath, TimeSpan timeout, ILogger logger)
{
    /// <summary>Kata's default <c>image_pull_timeout</c>.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(1200);

    /// <summary>What the agent answers when the guest image was built without guest pull.</summary>
    public const string NotInImage = "guest pull is not in this guest image: build it with kata-rootfs build --guest-pull";

    /// <summary>The helper's path in the guest.</summary>
    public string HelperPath => helperPath;

    /// <summary>Whether this guest has the helper.</summary>
    public bool Available => File.Exists(helperPath);

    /// <summary>Runs the helper and returns its result (with a process); its errors become <see cref="AgentException"/>s against <paramref name="field"/> (the image's field).</summary>
    public async Task<GuestPullResult> PullAsync(GuestPullRequest request, string field, CancellationToken cancellationToken)
    {
        if (!Available)
        {
            throw AgentException.FailedPrecondition(field, NotInImage);
        }
        byte[] input = JsonSerializer.SerializeToUtf8Bytes(request, GuestPullJsonContext.Default.GuestPullRequest);
        ToolResult result;
        try
        {
            result = await tools.RunAsync(helperPath, [], input, timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException e)
        {
            throw AgentException.DeadlineExceeded(field, $"pulling {request.Image}: {e.Message}");
        }
        finally
        {
            // The request may hold a password: it is not kept around longer than the call.
            Array.Clear(input);
        }
        foreach (string line in result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            logger.LogInformation("{Line}", line);
        }
        GuestPullResult? parsed = null;
        try
        {
            parsed = result.Stdout.Length > 0 ? JsonSerializer.Deserialize(result.Stdout, GuestPullJsonContext.Default.GuestPullResult) : null;
        }
        catch (JsonException)
        {
            // Reported below with the exit status and stderr.
        }
        if (parsed?.Error is { } error)
        {
            throw GuestPullErrors.ToAgentException(error, field);
        }
        if (result.Status != 0 || parsed?.Process is null)
        {
            string tail = result.Stderr.Length > 2000 ? result.Stderr[^2000..] : result.Stderr;
            throw AgentException.Internal($"{field}: the guest pull helper {helperPath} failed (exit status {result.Status}) without a result: {tail}");
        }
        return parsed;
    }
}
