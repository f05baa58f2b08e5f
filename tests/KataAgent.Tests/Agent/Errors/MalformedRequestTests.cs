using FluentAssertions;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;
using KataAgent.Host;
using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Extensions;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Agent.Errors;

/// <summary>
/// Bytes that are not the method's message, sent raw to the real agent: every method of every
/// service answers INVALID_ARGUMENT naming the message type (never UNKNOWN), before its handler
/// runs, so an unimplemented RPC says so only for a request that parses. The agent answers
/// Health.Check after each.
/// </summary>
public class MalformedRequestTests
{
    private static readonly Marshaller<byte[]> Raw = Marshallers.Create<byte[]>(b => b, b => b);

    public static TheoryData<string> Services => ["grpc.AgentService", "grpc.Health", "kataagent.v1.Streaming"];

    [Theory]
    [MemberData(nameof(Services))]
    public async Task Random_and_truncated_bytes_are_invalid_argument_for_every_method_and_the_agent_keeps_serving(string serviceName)
    {
        var service = Descriptor(serviceName);
        service.Methods.Should().NotBeEmpty();
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        var random = new Random(20261205);

        foreach (var method in service.Methods)
        {
            foreach (var (what, bytes) in new[] { ("random bytes", RandomGarbage(method.InputType, random)), ("a truncated message", Truncated(method.InputType)) })
            {
                var error = await SendAsync(client.CallInvoker, method, bytes);
                error.StatusCode.Should().NotBe(StatusCode.Unknown, $"{method.FullName} with {what}");
                error.StatusCode.Should().Be(StatusCode.InvalidArgument, $"{method.FullName} with {what}: {error.Status.Detail}");
                error.Status.Detail.Should().StartWith($"request is not a valid {method.InputType.FullName}: ", $"{method.FullName} with {what}");
                (await client.CheckAsync()).Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving, $"after {method.FullName} with {what}");
            }
        }
        agent.HasExited.Should().BeFalse(agent.Output);
    }

    private static ServiceDescriptor Descriptor(string fullName) =>
        AgentReflection.Descriptor.Services.Concat(HealthReflection.Descriptor.Services).Concat(StreamingReflection.Descriptor.Services)
            .Single(s => s.FullName == fullName);

    /// <summary>Random bytes that do not parse as <paramref name="type"/> (checked here, so the expected answer does not depend on luck).</summary>
    private static byte[] RandomGarbage(MessageDescriptor type, Random random)
    {
        while (true)
        {
            byte[] bytes = new byte[1 + random.Next(64)];
            random.NextBytes(bytes);
            if (!Parses(type, bytes))
            {
                return bytes;
            }
        }
    }

    /// <summary>
    /// A message of <paramref name="type"/> with its first string field set, cut short; a type with
    /// no string field gets a length-delimited field whose length runs past the end.
    /// </summary>
    private static byte[] Truncated(MessageDescriptor type)
    {
        var message = type.Parser.ParseFrom(ByteString.Empty);
        var text = type.Fields.InFieldNumberOrder().FirstOrDefault(f => f.FieldType == FieldType.String && !f.IsRepeated && f.ContainingOneof is null);
        byte[] bytes;
        if (text is not null)
        {
            text.Accessor.SetValue(message, "a-value-long-enough-to-cut");
            byte[] whole = message.ToByteArray();
            bytes = whole[..^5];
        }
        else
        {
            bytes = [0x0A, 0x14, (byte)'a', (byte)'b', (byte)'c'];
        }
        Parses(type, bytes).Should().BeFalse($"the truncated {type.FullName} must not parse");
        return bytes;
    }

    private static bool Parses(MessageDescriptor type, byte[] bytes)
    {
        try
        {
            type.Parser.ParseFrom(bytes);
            return true;
        }
        catch (InvalidProtocolBufferException)
        {
            return false;
        }
    }

    private static async Task<RpcException> SendAsync(CallInvoker invoker, MethodDescriptor method, byte[] bytes)
    {
        var options = new CallOptions(deadline: DateTime.UtcNow.AddSeconds(20));
        try
        {
            if (method.IsClientStreaming)
            {
                var type = method.IsServerStreaming ? MethodType.DuplexStreaming : MethodType.ClientStreaming;
                var grpcMethod = new Method<byte[], byte[]>(type, method.Service.FullName, method.Name, Raw, Raw);
                using var call = invoker.AsyncDuplexStreamingCall(grpcMethod, null, options);
                await call.RequestStream.WriteAsync(bytes);
                await call.RequestStream.CompleteAsync();
                while (await call.ResponseStream.MoveNext(CancellationToken.None))
                {
                }
            }
            else
            {
                var grpcMethod = new Method<byte[], byte[]>(method.IsServerStreaming ? MethodType.ServerStreaming : MethodType.Unary, method.Service.FullName, method.Name, Raw, Raw);
                if (method.IsServerStreaming)
                {
                    using var call = invoker.AsyncServerStreamingCall(grpcMethod, null, options, bytes);
                    while (await call.ResponseStream.MoveNext(CancellationToken.None))
                    {
                    }
                }
                else
                {
                    await invoker.AsyncUnaryCall(grpcMethod, null, options, bytes);
                }
            }
        }
        catch (RpcException e)
        {
            return e;
        }
        throw new InvalidOperationException($"{method.FullName} accepted bytes that do not parse");
    }
}
