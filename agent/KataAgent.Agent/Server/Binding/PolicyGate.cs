using Grpc.Core;
using KataAgent.Agent.Policy;

namespace KataAgent.Agent.Server.Binding;

/// <summary>
/// The agent policy's one enforcement point: <c>Wrap(method, handler)</c> returns the handler
/// with the policy check in front of it, for every bound method of every service and whichever
/// protocol carries the call (the gRPC binder calls it for each method it registers; a ttrpc
/// binder calls the same). A unary or server-streaming call is checked with its request; a call
/// whose requests stream is checked when it starts and again for every message it reads.
/// Services the policy does not govern (grpc.Health) get their handler back unchanged.
/// </summary>
internal sealed class PolicyGate(AgentPolicy policy)
{
    public UnaryServerMethod<TRequest, TResponse> Wrap<TRequest, TResponse>(IMethod method, UnaryServerMethod<TRequest, TResponse> handler)
        where TRequest : class
        where TResponse : class
    {
        if (!PolicyRpcs.Governs(method.ServiceName))
        {
            return handler;
        }
        return (request, context) =>
        {
            policy.Check(method.ServiceName, method.Name, request);
            return handler(request, context);
        };
    }

    public ServerStreamingServerMethod<TRequest, TResponse> Wrap<TRequest, TResponse>(IMethod method, ServerStreamingServerMethod<TRequest, TResponse> handler)
        where TRequest : class
        where TResponse : class
    {
        if (!PolicyRpcs.Governs(method.ServiceName))
        {
            return handler;
        }
        return (request, responses, context) =>
        {
            policy.Check(method.ServiceName, method.Name, request);
            return handler(request, responses, context);
        };
    }

    public ClientStreamingServerMethod<TRequest, TResponse> Wrap<TRequest, TResponse>(IMethod method, ClientStreamingServerMethod<TRequest, TResponse> handler)
        where TRequest : class
        where TResponse : class
    {
        if (!PolicyRpcs.Governs(method.ServiceName))
        {
            return handler;
        }
        return (requests, context) =>
        {
            policy.Check(method.ServiceName, method.Name, null);
            return handler(new CheckedStreamReader<TRequest>(requests, message => policy.Check(method.ServiceName, method.Name, message)), context);
        };
    }

    public DuplexStreamingServerMethod<TRequest, TResponse> Wrap<TRequest, TResponse>(IMethod method, DuplexStreamingServerMethod<TRequest, TResponse> handler)
        where TRequest : class
        where TResponse : class
    {
        if (!PolicyRpcs.Governs(method.ServiceName))
        {
            return handler;
        }
        return (requests, responses, context) =>
        {
            policy.Check(method.ServiceName, method.Name, null);
            return handler(new CheckedStreamReader<TRequest>(requests, message => policy.Check(method.ServiceName, method.Name, message)), responses, context);
        };
    }
}
