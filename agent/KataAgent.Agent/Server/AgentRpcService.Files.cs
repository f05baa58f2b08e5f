using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using KataAgent.Protocols.Agent;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Server;

/// <summary>RPCs that write files into the guest: CopyFile.</summary>
internal sealed partial class AgentRpcService
{
    public override Task<Empty> CopyFile(CopyFileRequest request, ServerCallContext context)
    {
        _files.Copy(request);
        _logger.LogDebug("CopyFile {Path}: {Bytes} bytes at offset {Offset} of {Size}, mode 0{Mode}", request.Path, request.Data.Length, request.Offset, request.FileSize, Convert.ToString(request.FileMode, 8));
        return Task.FromResult(new Empty());
    }
}
