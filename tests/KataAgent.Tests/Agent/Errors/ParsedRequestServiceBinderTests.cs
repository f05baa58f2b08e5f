using FluentAssertions;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using KataAgent.Agent.Server.Binding;
using KataAgent.Protocols.Agent;
using Xunit;

namespace KataAgent.Tests.Agent.Errors;

/// <summary>The request marshaller the agent's binder installs: bytes that do not parse are INVALID_ARGUMENT naming the message type.</summary>
public class ParsedRequestServiceBinderTests
{
    private static readonly Method<CreateContainerRequest, Empty> CreateContainer = new(
        MethodType.Unary,
        "grpc.AgentService",
        "CreateContainer",
        Marshallers.Create<CreateContainerRequest>(m => m.ToByteArray(), CreateContainerRequest.Parser.ParseFrom),
        Marshallers.Create<Empty>(m => m.ToByteArray(), Empty.Parser.ParseFrom));

    [Fact]
    public void Truncated_bytes_are_invalid_argument_naming_the_message_type()
    {
        byte[] whole = new CreateContainerRequest { ContainerId = "web", ExecId = "web" }.ToByteArray();
        var logger = new RecordingLogger<ParsedRequestServiceBinderTests>();
        var parsed = ParsedRequestServiceBinder<object>.Parsed(CreateContainer, logger);

        var parse = () => parsed.RequestMarshaller.ContextualDeserializer(new ByteArrayDeserializationContext(whole[..^2]));

        var error = parse.Should().Throw<RpcException>().Which;
        error.StatusCode.Should().Be(StatusCode.InvalidArgument);
        error.Status.Detail.Should().StartWith("request is not a valid grpc.CreateContainerRequest: ");
        logger.Entries.Should().ContainSingle().Which.Message.Should().StartWith("grpc.AgentService/CreateContainer: InvalidArgument request is not a valid");
        CreateContainer.RequestMarshaller.ContextualDeserializer.Invoking(d => d(new ByteArrayDeserializationContext(whole[..^2]))).Should().Throw<InvalidProtocolBufferException>("the generated marshaller alone fails with a parser error, which the server would answer UNKNOWN");
    }

    [Fact]
    public void Bytes_that_parse_give_the_message_and_the_method_keeps_its_name_and_response()
    {
        var request = new CreateContainerRequest { ContainerId = "web" };
        var logger = new RecordingLogger<ParsedRequestServiceBinderTests>();
        var parsed = ParsedRequestServiceBinder<object>.Parsed(CreateContainer, logger);

        parsed.RequestMarshaller.ContextualDeserializer(new ByteArrayDeserializationContext(request.ToByteArray())).Should().Be(request);
        parsed.FullName.Should().Be("/grpc.AgentService/CreateContainer");
        parsed.Type.Should().Be(MethodType.Unary);
        parsed.ResponseMarshaller.Should().BeSameAs(CreateContainer.ResponseMarshaller);
        logger.Entries.Should().BeEmpty();
    }
}
