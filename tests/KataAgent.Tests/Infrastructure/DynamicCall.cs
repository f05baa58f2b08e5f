using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;

namespace KataAgent.Tests.Infrastructure;

/// <summary>Calls any unary RPC from its descriptor, the way a generic client (kactl call) does.</summary>
public static class DynamicCall
{
    public static async Task<IMessage> UnaryAsync(CallInvoker invoker, MethodDescriptor method, IMessage request)
    {
        var grpcMethod = new Method<IMessage, IMessage>(
            MethodType.Unary,
            method.Service.FullName,
            method.Name,
            Marshallers.Create<IMessage>(m => m.ToByteArray(), b => method.InputType.Parser.ParseFrom(b)),
            Marshallers.Create<IMessage>(m => m.ToByteArray(), b => method.OutputType.Parser.ParseFrom(b)));
        return await invoker.AsyncUnaryCall(grpcMethod, null, new CallOptions(deadline: DateTime.UtcNow.AddSeconds(30)), request);
    }
}
