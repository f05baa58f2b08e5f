using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;

namespace KataAgent.Kactl;

/// <summary>One unary RPC kactl can call, described by its protobuf descriptor.</summary>
public sealed class RpcEntry
{
    /// <summary>Creates the entry for <paramref name="method"/>; <paramref name="name"/> is what users type.</summary>
    public RpcEntry(string name, MethodDescriptor method, bool isLongPoll)
    {
        Name = name;
        Descriptor = method;
        IsLongPoll = isLongPoll;
        Method = new Method<IMessage, IMessage>(
            MethodType.Unary,
            method.Service.FullName,
            method.Name,
            MarshallerFor(method.InputType),
            MarshallerFor(method.OutputType));
    }

    /// <summary>The name users type: the bare method name for grpc.AgentService, Service.Method otherwise.</summary>
    public string Name { get; }

    /// <summary>The protobuf method.</summary>
    public MethodDescriptor Descriptor { get; }

    /// <summary>The request message type.</summary>
    public MessageDescriptor InputType => Descriptor.InputType;

    /// <summary>The response message type.</summary>
    public MessageDescriptor OutputType => Descriptor.OutputType;

    /// <summary>True for RPCs that wait for an event (no default deadline).</summary>
    public bool IsLongPoll { get; }

    /// <summary>The gRPC method, with marshallers built from the descriptors' parsers.</summary>
    public Method<IMessage, IMessage> Method { get; }

    /// <summary>The full gRPC path, e.g. /grpc.AgentService/GetGuestDetails.</summary>
    public string FullName => Method.FullName;

    private static Marshaller<IMessage> MarshallerFor(MessageDescriptor type)
    {
        var parser = type.Parser;
        return Marshallers.Create(
            serializer: static message => message.ToByteArray(),
            deserializer: bytes => parser.ParseFrom(bytes));
    }
}
