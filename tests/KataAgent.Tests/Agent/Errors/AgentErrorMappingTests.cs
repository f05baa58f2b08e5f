using FluentAssertions;
using Grpc.Core;
using KataAgent.Agent.Errors;
using KataAgent.Agent.Server;
using KataAgent.Linux.Interop;
using Microsoft.Extensions.Logging;
using Xunit;

namespace KataAgent.Tests.Agent.Errors;

/// <summary>The one mapping from the core's errors to a status, which every front end uses.</summary>
public class AgentErrorMappingTests
{
    private const string Rpc = "grpc.AgentService/CreateContainer";

    [Theory]
    [InlineData(AgentErrorKind.InvalidArgument, StatusCode.InvalidArgument)]
    [InlineData(AgentErrorKind.PermissionDenied, StatusCode.PermissionDenied)]
    [InlineData(AgentErrorKind.NotFound, StatusCode.NotFound)]
    [InlineData(AgentErrorKind.AlreadyExists, StatusCode.AlreadyExists)]
    [InlineData(AgentErrorKind.FailedPrecondition, StatusCode.FailedPrecondition)]
    [InlineData(AgentErrorKind.ResourceExhausted, StatusCode.ResourceExhausted)]
    [InlineData(AgentErrorKind.Unavailable, StatusCode.Unavailable)]
    [InlineData(AgentErrorKind.Unauthenticated, StatusCode.Unauthenticated)]
    [InlineData(AgentErrorKind.Unimplemented, StatusCode.Unimplemented)]
    [InlineData(AgentErrorKind.DeadlineExceeded, StatusCode.DeadlineExceeded)]
    [InlineData(AgentErrorKind.Internal, StatusCode.Internal)]
    public void Each_kind_has_its_status_code(AgentErrorKind kind, StatusCode expected)
    {
        AgentErrorMapping.CodeFor(kind).Should().Be(expected);
        ((int)AgentErrorMapping.CodeFor(kind)).Should().Be((int)expected, "the numbers are google.rpc.Code's, which ttrpc carries too");
    }

    [Fact]
    public void Every_kind_is_mapped_to_a_code_of_its_own()
    {
        var kinds = Enum.GetValues<AgentErrorKind>();
        kinds.Select(AgentErrorMapping.CodeFor).Should().OnlyHaveUniqueItems();
        kinds.Where(k => k != AgentErrorKind.Internal).Select(AgentErrorMapping.CodeFor).Should().NotContain(StatusCode.Internal);
    }

    [Fact]
    public void An_agent_exception_keeps_its_message_with_the_field_first_and_is_logged_once_at_debug()
    {
        var logger = new RecordingLogger<AgentErrorMappingTests>();

        var status = AgentErrorMapping.ToStatus(AgentException.NotFound("container_id", "no container 'web'"), Rpc, logger);

        status.Should().Be(new AgentStatus(StatusCode.NotFound, "container_id: no container 'web'"));
        logger.Entries.Should().ContainSingle().Which.Level.Should().Be(LogLevel.Debug);
    }

    [Fact]
    public void A_system_call_error_nobody_classified_maps_by_errno_and_names_the_rpc()
    {
        var logger = new RecordingLogger<AgentErrorMappingTests>();

        var status = AgentErrorMapping.ToStatus(new LinuxException("settimeofday", Errno.EPERM), Rpc, logger);

        status.Code.Should().Be(StatusCode.PermissionDenied);
        status.Message.Should().StartWith($"{Rpc}: settimeofday");
        logger.Entries.Should().ContainSingle().Which.Level.Should().Be(LogLevel.Warning);
    }

    [Fact]
    public void An_unclassified_exception_is_internal_with_its_message_and_logged_once_as_an_error()
    {
        var logger = new RecordingLogger<AgentErrorMappingTests>();
        var failure = new InvalidOperationException("the list changed while it was read");

        var status = AgentErrorMapping.ToStatus(failure, Rpc, logger);

        status.Should().Be(new AgentStatus(StatusCode.Internal, $"{Rpc}: InvalidOperationException: the list changed while it was read"));
        var entry = logger.Entries.Should().ContainSingle().Which;
        entry.Level.Should().Be(LogLevel.Error);
        entry.Exception.Should().BeSameAs(failure);
    }

    [Fact]
    public void Cancellation_is_cancelled()
    {
        var status = AgentErrorMapping.ToStatus(new OperationCanceledException(), Rpc, new RecordingLogger<AgentErrorMappingTests>());

        status.Should().Be(new AgentStatus(StatusCode.Cancelled, $"{Rpc}: cancelled"));
    }
}
