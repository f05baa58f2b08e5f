using Grpc.Core.Interceptors;
using KataAgent.Protocols.Extensions;

namespace KataAgent.Host;

public sealed partial class AgentClient
{
    /// <summary>
    /// kataagent.v1.Images/PullImage: the agent pulls the image inside the guest (a guest image built with
    /// <c>kata-rootfs build --guest-pull</c>) and unpacks it at <see cref="PullImageResponse.Rootfs"/>; the answer
    /// carries the image's process. Credentials go to the guest only. No deadline but the caller's token: a pull
    /// takes as long as the image is large (the agent's helper has Kata's 1200 s limit).
    /// </summary>
    /// <exception cref="AgentStatusException">The agent refused: INVALID_ARGUMENT naming the field, UNAUTHENTICATED,
    /// NOT_FOUND, UNAVAILABLE (the registry), FAILED_PRECONDITION (no guest pull in this guest image).</exception>
    public async Task<PullImageResponse> PullImageAsync(PullImageRequest request, CancellationToken cancellationToken = default) =>
        await new global::KataAgent.Protocols.Extensions.Images.ImagesClient(_invoker.Intercept(new AgentStatusInterceptor())).PullImageAsync(request, LongPoll(cancellationToken)).ConfigureAwait(false);
}
