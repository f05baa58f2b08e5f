using Google.Protobuf.WellKnownTypes;
using KataAgent.Protocols.Agent;

namespace KataAgent.Host;

public sealed partial class AgentClient
{
    /// <summary>ExecProcess: Starts an additional process in a running container.</summary>
    public async Task ExecProcessAsync(ExecProcessRequest request, CancellationToken cancellationToken = default) =>
        await _calls.ExecProcessAsync(request, Call(cancellationToken)).ConfigureAwait(false);

    /// <summary>SignalProcess: Sends a signal to one process, or to every process of the container when exec_id is empty.</summary>
    public async Task SignalProcessAsync(SignalProcessRequest request, CancellationToken cancellationToken = default) =>
        await _calls.SignalProcessAsync(request, Call(cancellationToken)).ConfigureAwait(false);

    /// <summary>WaitProcess: Long poll: waits for a process to exit and returns its status. No deadline; cancel to stop.</summary>
    public async Task<WaitProcessResponse> WaitProcessAsync(WaitProcessRequest request, CancellationToken cancellationToken = default) =>
        await _calls.WaitProcessAsync(request, LongPoll(cancellationToken)).ConfigureAwait(false);

    /// <summary>WriteStdin: Writes bytes to a process's stdin.</summary>
    public async Task<WriteStreamResponse> WriteStdinAsync(WriteStreamRequest request, CancellationToken cancellationToken = default) =>
        await _calls.WriteStdinAsync(request, Call(cancellationToken)).ConfigureAwait(false);

    /// <summary>ReadStdout: Long poll: up to len bytes of stdout; empty data means end of stream. No deadline.</summary>
    public async Task<ReadStreamResponse> ReadStdoutAsync(ReadStreamRequest request, CancellationToken cancellationToken = default) =>
        await _calls.ReadStdoutAsync(request, LongPoll(cancellationToken)).ConfigureAwait(false);

    /// <summary>ReadStderr: Long poll: up to len bytes of stderr; empty data means end of stream. No deadline.</summary>
    public async Task<ReadStreamResponse> ReadStderrAsync(ReadStreamRequest request, CancellationToken cancellationToken = default) =>
        await _calls.ReadStderrAsync(request, LongPoll(cancellationToken)).ConfigureAwait(false);

    /// <summary>CloseStdin: Closes a process's stdin (end of input).</summary>
    public async Task CloseStdinAsync(CloseStdinRequest request, CancellationToken cancellationToken = default) =>
        await _calls.CloseStdinAsync(request, Call(cancellationToken)).ConfigureAwait(false);

    /// <summary>TtyWinResize: Resizes a process's terminal.</summary>
    public async Task TtyWinResizeAsync(TtyWinResizeRequest request, CancellationToken cancellationToken = default) =>
        await _calls.TtyWinResizeAsync(request, Call(cancellationToken)).ConfigureAwait(false);
}
