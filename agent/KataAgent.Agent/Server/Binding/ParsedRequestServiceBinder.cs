using System.Diagnostics.CodeAnalysis;
using Google.Protobuf;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Server.Binding;

/// <summary>
/// Receives the methods a generated <c>BindService(ServiceBinderBase, …)</c> names and registers each
/// with Grpc.AspNetCore, with its handler and one change: the request marshaller. ASP.NET's gRPC
/// server parses the request before any interceptor runs, and a parse failure there would answer
/// UNKNOWN ("Exception was thrown by handler"); here it answers INVALID_ARGUMENT naming the message
/// type, so bad bytes get the same kind of answer as a bad field. Plain generic code over the
/// generated descriptors, no reflection: it stays Native-AOT clean. Every handler is bound
/// through <see cref="PolicyGate"/>, so the agent policy sees every call of every method.
/// </summary>
/// <typeparam name="TService">The service type routes are registered for.</typeparam>
internal sealed class ParsedRequestServiceBinder<[DynamicallyAccessedMembers(ServiceAccessibility)] TService>(ServiceMethodProviderContext<TService> context, PolicyGate policy, ILogger logger) : ServiceBinderBase
    where TService : class
{
    /// <summary>What ASP.NET's gRPC model requires of a service type (constructors for its activator, methods for its binder).</summary>
    internal const DynamicallyAccessedMemberTypes ServiceAccessibility =
        DynamicallyAccessedMemberTypes.PublicConstructors | DynamicallyAccessedMemberTypes.PublicMethods | DynamicallyAccessedMemberTypes.NonPublicMethods;

    public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler)
    {
        var bound = policy.Wrap(method, Require(method, handler));
        context.AddUnaryMethod(Parsed(method, logger), Metadata(), (_, request, callContext) => bound(request, callContext));
    }

    public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ClientStreamingServerMethod<TRequest, TResponse>? handler)
    {
        var bound = policy.Wrap(method, Require(method, handler));
        context.AddClientStreamingMethod(Parsed(method, logger), Metadata(), (_, requests, callContext) => bound(requests, callContext));
    }

    public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler)
    {
        var bound = policy.Wrap(method, Require(method, handler));
        context.AddServerStreamingMethod(Parsed(method, logger), Metadata(), (_, request, responses, callContext) => bound(request, responses, callContext));
    }

    public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TRequest, TResponse>? handler)
    {
        var bound = policy.Wrap(method, Require(method, handler));
        context.AddDuplexStreamingMethod(Parsed(method, logger), Metadata(), (_, requests, responses, callContext) => bound(requests, responses, callContext));
    }

    /// <summary>
    /// <paramref name="method"/> with a request deserializer that turns a parse failure into
    /// INVALID_ARGUMENT "request is not a valid grpc.XRequest: …". The message type's name comes
    /// from parsing no bytes, which every protobuf message accepts, and only when a request fails:
    /// a message's descriptor builds its whole file's reflection, and for every bound method at start
    /// that was 19 MiB allocated and 5 MiB kept for the agent's life.
    /// </summary>
    internal static Method<TRequest, TResponse> Parsed<TRequest, TResponse>(Method<TRequest, TResponse> method, ILogger logger)
        where TRequest : class
        where TResponse : class
    {
        var inner = method.RequestMarshaller;
        string rpc = method.FullName.TrimStart('/');
        var marshaller = Marshallers.Create(
            inner.ContextualSerializer,
            deserializationContext =>
            {
                try
                {
                    return inner.ContextualDeserializer(deserializationContext);
                }
                catch (Exception e) when (e is not RpcException and not OperationCanceledException)
                {
                    string messageType = (inner.ContextualDeserializer(new ByteArrayDeserializationContext([])) as IMessage)?.Descriptor.FullName ?? typeof(TRequest).Name;
                    string detail = $"request is not a valid {messageType}: {e.Message}";
                    logger.LogDebug("{Rpc}: {Status} {Detail}", rpc, StatusCode.InvalidArgument, detail);
                    throw new RpcException(new Status(StatusCode.InvalidArgument, detail));
                }
            });
        return new Method<TRequest, TResponse>(method.Type, method.ServiceName, method.Name, marshaller, method.ResponseMarshaller);
    }

    /// <summary>As Grpc.AspNetCore's own binder: the route answers POST only (and a CORS preflight).</summary>
    private static List<object> Metadata() => [new HttpMethodMetadata(["POST"], acceptCorsPreflight: true)];

    /// <summary>The handler bound to the service instance; a generated binder passes null only when given no instance.</summary>
    private static T Require<T>(IMethod method, T? handler)
        where T : Delegate =>
        handler ?? throw new InvalidOperationException($"{method.FullName}: BindService was called without a service instance");
}
