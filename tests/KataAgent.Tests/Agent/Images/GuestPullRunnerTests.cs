using FluentAssertions;
using KataAgent.Agent.Errors;
using KataAgent.Agent.Images;
using KataAgent.Protocols.Guest.ImagePull;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace KataAgent.Tests.Agent.Images;

/// <summary>The agent's side of the helper: a guest image without it, and the helper's errors as statuses.</summary>
public sealed class GuestPullRunnerTests
{
    [Fact]
    public async Task Without_the_helper_a_pull_is_failed_precondition_saying_how_to_build_a_guest_pull_image()
    {
        var runner = new GuestPullRunner(null!, "/nonexistent/kata-image-pull", TimeSpan.FromSeconds(5), NullLogger.Instance);

        var refusal = await runner.Invoking(r => r.PullAsync(new GuestPullRequest { Image = "busybox", StoreDirectory = "/s", Rootfs = "/r" }, "image", CancellationToken.None))
            .Should().ThrowAsync<AgentException>();

        runner.Available.Should().BeFalse();
        refusal.Which.Kind.Should().Be(AgentErrorKind.FailedPrecondition);
        refusal.Which.Message.Should().Be("image: guest pull is not in this guest image: build it with kata-rootfs build --guest-pull");
    }

    [Theory]
    [InlineData("Unauthorized", AgentErrorKind.Unauthenticated)]
    [InlineData("NotFound", AgentErrorKind.NotFound)]
    [InlineData("InvalidInput", AgentErrorKind.InvalidArgument)]
    [InlineData("PathEscape", AgentErrorKind.InvalidArgument)]
    [InlineData("Unsupported", AgentErrorKind.InvalidArgument)]
    [InlineData("Unavailable", AgentErrorKind.Unavailable)]
    [InlineData("DigestMismatch", AgentErrorKind.Unavailable)]
    [InlineData("Internal", AgentErrorKind.Internal)]
    public void The_helpers_error_kind_decides_the_status_and_its_message_is_kept(string kind, AgentErrorKind expected)
    {
        var error = GuestPullErrors.ToAgentException(new GuestPullError(kind, "registry 10.0.0.2:5000 said no"), "image");

        error.Kind.Should().Be(expected);
        error.Message.Should().Be("image: registry 10.0.0.2:5000 said no");
    }
}
