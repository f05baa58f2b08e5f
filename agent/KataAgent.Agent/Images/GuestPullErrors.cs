using KataAgent.Agent.Errors;
using KataAgent.Protocols.Guest.ImagePull;

namespace KataAgent.Agent.Images;

/// <summary>
/// The guest pull helper's errors as the agent's: the image library's kind (by name, so the agent needs none of
/// its code) decides the status, once, here. The message is the helper's, which names the image, field or path.
/// </summary>
internal static class GuestPullErrors
{
    /// <summary>The agent error for <paramref name="error"/>, reported against <paramref name="field"/> (the request's image field).</summary>
    public static AgentException ToAgentException(GuestPullError error, string field) => error.Kind switch
    {
        "InvalidInput" or "PathEscape" or "Unsupported" => AgentException.InvalidArgument(field, error.Message),
        "NotFound" => AgentException.NotFound(field, error.Message),
        "Unauthorized" => new AgentException(AgentErrorKind.Unauthenticated, field, error.Message),
        // The registry sent content that does not match its digest: a later attempt may succeed.
        "DigestMismatch" or "Unavailable" => new AgentException(AgentErrorKind.Unavailable, field, error.Message),
        _ => AgentException.Internal($"{field}: {error.Message}"),
    };
}
