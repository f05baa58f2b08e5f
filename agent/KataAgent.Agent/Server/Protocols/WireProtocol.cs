namespace KataAgent.Agent.Server.Protocols;

/// <summary>The two protocols the agent serves on its one address.</summary>
internal enum WireProtocol
{
    /// <summary>gRPC over cleartext HTTP/2 (the connection starts with HTTP/2's client preface).</summary>
    Grpc,

    /// <summary>ttrpc, as Kata's runtimes speak it (the connection starts with a frame header).</summary>
    Ttrpc,
}
