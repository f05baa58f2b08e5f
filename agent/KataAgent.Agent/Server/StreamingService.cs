using Google.Protobuf;
using Grpc.Core;
using KataAgent.Agent.Containers;
using KataAgent.Agent.Containers.Processes;
using KataAgent.Agent.Errors;
using KataAgent.Protocols.Extensions;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Server;

/// <summary>
/// kataagent.v1.Streaming: a process's stdio on one bidirectional stream. Output chunks go out
/// as soon as the process writes them; the exit status follows once both outputs are drained,
/// so nothing the process wrote is lost.
/// </summary>
internal sealed class StreamingService(ContainerManager containers, ILogger<StreamingService> logger) : Streaming.StreamingBase
{
    /// <summary>
    /// The most one message carries. Below the runtime's large-object threshold (85 000 bytes): a 256 KiB chunk was a
    /// large-object allocation per message, and the quiet bench moved 118 → 244 MiB/s over ttrpc and 167 → 190 MiB/s
    /// over gRPC with 64 KiB (docs/BENCHMARKS.md, issue 16).
    /// </summary>
    private const int ChunkSize = 64 * 1024;

    public override async Task Attach(IAsyncStreamReader<AttachRequest> requestStream, IServerStreamWriter<AttachResponse> responseStream, ServerCallContext context)
    {
        if (!await requestStream.MoveNext(context.CancellationToken).ConfigureAwait(false) || requestStream.Current.KindCase != AttachRequest.KindOneofCase.Start)
        {
            throw AgentException.InvalidArgument("start", "the first request of Attach must name the process");
        }
        var start = requestStream.Current.Start;
        ContainerProcess process = containers.Process(start.ContainerId, start.ExecId);
        using var writeGate = new SemaphoreSlim(1, 1);
        using var done = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);

        async Task Send(AttachResponse response)
        {
            await writeGate.WaitAsync(done.Token).ConfigureAwait(false);
            try
            {
                await responseStream.WriteAsync(response, done.Token).ConfigureAwait(false);
            }
            finally
            {
                writeGate.Release();
            }
        }

        var (stdoutReader, stderrReader) = start.Resume ? Resume(process, start) : (-1, -1);

        async Task Forward(OutputBuffer buffer, bool stderr)
        {
            int generation = stderr ? stderrReader : stdoutReader;
            while (true)
            {
                // A slice of the buffer's segment, which never changes: wrapped, not copied, until the frame is written.
                ReadOnlyMemory<byte> chunk = await buffer.ReadChunkAsync(ChunkSize, generation, done.Token).ConfigureAwait(false);
                if (chunk.IsEmpty)
                {
                    return;
                }
                var data = UnsafeByteOperations.UnsafeWrap(chunk);
                await Send(stderr ? new AttachResponse { Stderr = data } : new AttachResponse { Stdout = data }).ConfigureAwait(false);
            }
        }

        var input = Task.Run(async () =>
        {
            while (await requestStream.MoveNext(done.Token).ConfigureAwait(false))
            {
                var request = requestStream.Current;
                try
                {
                    await ApplyAsync(request, process, done.Token).ConfigureAwait(false);
                }
                catch (AgentException e) when (e.Kind == AgentErrorKind.FailedPrecondition)
                {
                    // One request that cannot apply (a resize without a terminal, stdin after close)
                    // must not end the stream: later input still flows.
                    logger.LogInformation("Attach {Container}/{Exec}: {Request}: {Error}", start.ContainerId, start.ExecId, request.KindCase, e.Message);
                }
            }
        });

        var output = Task.WhenAll(Forward(process.Stdout, stderr: false), Forward(process.Stderr, stderr: true));
        if (await Task.WhenAny(output, input).ConfigureAwait(false) == input && input.IsFaulted)
        {
            // Input refused (the agent policy denies stdin, say): the call ends now with that error
            // rather than waiting for a process that may wait for input for ever.
            done.Cancel();
            await input.ConfigureAwait(false);
        }
        await output.ConfigureAwait(false);
        int status = await process.Exited.WaitAsync(done.Token).ConfigureAwait(false);
        await Send(new AttachResponse { Exit = new ProcessExit { Status = status } }).ConfigureAwait(false);
        done.Cancel();
        try
        {
            await input.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>
    /// Both outputs rewound to the host's offsets (see AttachStart.resume) in one step: a refused offset rewinds
    /// neither, so the readers already attached keep reading. Returns the reader generations.
    /// </summary>
    private static (int Stdout, int Stderr) Resume(ContainerProcess process, AttachStart start)
    {
        bool stderrRefused = false;
        try
        {
            long stdoutOffset = checked((long)start.StdoutOffset);
            stderrRefused = true;
            long stderrOffset = checked((long)start.StderrOffset);
            stderrRefused = false;
            return OutputBuffer.Resume(process.Stdout, stdoutOffset, process.Stderr, stderrOffset);
        }
        catch (Exception e) when (e is OverflowException or ArgumentOutOfRangeException)
        {
            stderrRefused |= e is ArgumentOutOfRangeException { ParamName: "stderrOffset" };
            var (field, offset, output) = stderrRefused
                ? ("start.stderr_offset", start.StderrOffset, process.Stderr)
                : ("start.stdout_offset", start.StdoutOffset, process.Stdout);
            throw AgentException.InvalidArgument(field, $"{offset} is past the {output.Taken} bytes sent so far");
        }
        catch (OutputLostException e)
        {
            string field = e.ParamName == "stderrOffset" ? "start.stderr_offset" : "start.stdout_offset";
            throw AgentException.FailedPrecondition(field, $"output before it is lost: {e.Message}");
        }
    }

    private static async Task ApplyAsync(AttachRequest request, ContainerProcess process, CancellationToken cancellationToken)
    {
        switch (request.KindCase)
        {
            case AttachRequest.KindOneofCase.Stdin:
                await process.WriteStdinAsync(request.Stdin.Memory, cancellationToken).ConfigureAwait(false);
                break;
            case AttachRequest.KindOneofCase.CloseStdin:
                process.CloseStdin();
                break;
            case AttachRequest.KindOneofCase.Resize:
                process.Resize(request.Resize.Rows, request.Resize.Columns);
                break;
            default:
                throw AgentException.InvalidArgument("kind", $"{request.KindCase} is only allowed as the first request");
        }
    }
}
