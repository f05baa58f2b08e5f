using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using KataAgent.Agent.Containers.Processes;
using KataAgent.Protocols.Agent;

namespace KataAgent.Agent.Server;

/// <summary>Process RPCs: exec, signals, wait, stdio, terminal size.</summary>
internal sealed partial class AgentRpcService
{
    /// <summary>Largest ReadStdout/ReadStderr chunk, whatever len asks for (keeps replies under the message limit).</summary>
    private const int MaxReadChunk = 1024 * 1024;

    public override async Task<Empty> ExecProcess(ExecProcessRequest request, ServerCallContext context)
    {
        await _containers.ExecAsync(request.ContainerId, request.ExecId, request.Process, context.CancellationToken).ConfigureAwait(false);
        return new Empty();
    }

    public override Task<Empty> SignalProcess(SignalProcessRequest request, ServerCallContext context)
    {
        _containers.Signal(request.ContainerId, request.ExecId, request.Signal);
        return Task.FromResult(new Empty());
    }

    public override async Task<WaitProcessResponse> WaitProcess(WaitProcessRequest request, ServerCallContext context) =>
        new() { Status = await _containers.WaitAsync(request.ContainerId, request.ExecId, context.CancellationToken).ConfigureAwait(false) };

    public override async Task<WriteStreamResponse> WriteStdin(WriteStreamRequest request, ServerCallContext context)
    {
        var process = _containers.Process(request.ContainerId, request.ExecId);
        int written = await process.WriteStdinAsync(request.Data.Memory, context.CancellationToken).ConfigureAwait(false);
        return new WriteStreamResponse { Len = (uint)written };
    }

    public override Task<ReadStreamResponse> ReadStdout(ReadStreamRequest request, ServerCallContext context) =>
        Read(_containers.Process(request.ContainerId, request.ExecId).Stdout, request.Len, context);

    public override Task<ReadStreamResponse> ReadStderr(ReadStreamRequest request, ServerCallContext context) =>
        Read(_containers.Process(request.ContainerId, request.ExecId).Stderr, request.Len, context);

    public override Task<Empty> CloseStdin(CloseStdinRequest request, ServerCallContext context)
    {
        _containers.Process(request.ContainerId, request.ExecId).CloseStdin();
        return Task.FromResult(new Empty());
    }

    public override Task<Empty> TtyWinResize(TtyWinResizeRequest request, ServerCallContext context)
    {
        _containers.Process(request.ContainerId, request.ExecId).Resize(request.Row, request.Column);
        return Task.FromResult(new Empty());
    }

    private static async Task<ReadStreamResponse> Read(OutputBuffer buffer, uint len, ServerCallContext context)
    {
        int max = len == 0 ? MaxReadChunk : (int)Math.Min(len, MaxReadChunk);
        byte[] data = await buffer.ReadAsync(max, context.CancellationToken).ConfigureAwait(false);
        // The array is the reply's own copy out of the buffer: wrapped, not copied again.
        return new ReadStreamResponse { Data = UnsafeByteOperations.UnsafeWrap(data) };
    }
}
