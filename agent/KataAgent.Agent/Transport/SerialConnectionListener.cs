using System.Net;
using KataAgent.Linux.IO;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Transport;

/// <summary>
/// Serves one connection at a time (gRPC or ttrpc, see Server/Protocols) over a virtio-serial port. The port is a single byte
/// stream with no connection concept beyond "host side open": the device reads EOF and polls
/// POLLHUP while the host end (qemu's chardev socket) is closed. So: open the device when the host
/// is there, hand it to the agent's listener, and when that connection ends (whoever served it, the ttrpc front end
/// or Kestrel, disposed it), close it and wait for the next.
/// The kernel gives no way to sleep until the host connects (poll reports POLLHUP at once while it
/// is away), so the port is checked again after a pause that starts at 100 ms and doubles up to 1 s
/// while nobody comes: a detached VM nobody talks to wakes once a second, not ten times, and a host
/// waits at most a second longer for its first answer.
/// </summary>
internal sealed class SerialConnectionListener : IConnectionListener
{
    private static readonly TimeSpan FirstRetryInterval = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan LongestRetryInterval = TimeSpan.FromSeconds(1);
    private TimeSpan _retryInterval = FirstRetryInterval;
    private readonly SerialEndPoint _endPoint;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _unbind = new();
    private StreamConnection? _current;
    private string? _lastProblem;

    public SerialConnectionListener(SerialEndPoint endPoint, ILogger logger)
    {
        _endPoint = endPoint;
        _logger = logger;
    }

    public EndPoint EndPoint => _endPoint;

    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _unbind.Token);
        try
        {
            if (_current is not null)
            {
                await _current.Disposed.WaitAsync(linked.Token).ConfigureAwait(false);
                bool silent = _current.BytesReceived == 0;
                if (!silent)
                {
                    _logger.LogInformation("{Address}: connection {Id} ended; waiting for the host to connect again", _endPoint, _current.ConnectionId);
                }
                _current = null;
                // A port whose host end is closed can open fine and read EOF at once: without a
                // pause this would spin. A real host sends its first bytes at once (the HTTP/2
                // preface or a ttrpc frame: each connection is sniffed afresh).
                if (silent)
                {
                    await PauseAsync(linked.Token).ConfigureAwait(false);
                }
                else
                {
                    _retryInterval = FirstRetryInterval;
                }
            }
            while (true)
            {
                int fd = TryOpenWhenHostConnected();
                if (fd >= 0)
                {
                    _current = new StreamConnection(new FileDescriptorStream(fd, ownsFd: true), "serial", _endPoint);
                    _lastProblem = null;
                    _logger.LogDebug("{Address}: port open ({Id})", _endPoint, _current.ConnectionId);
                    return _current;
                }
                await PauseAsync(linked.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (_unbind.IsCancellationRequested)
        {
            return null;
        }
    }

    /// <summary>Waits before the next look at the port, each pause twice the last, up to <see cref="LongestRetryInterval"/>.</summary>
    private async Task PauseAsync(CancellationToken cancellationToken)
    {
        await Task.Delay(_retryInterval, cancellationToken).ConfigureAwait(false);
        _retryInterval = TimeSpan.FromTicks(Math.Min(_retryInterval.Ticks * 2, LongestRetryInterval.Ticks));
    }

    public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        _unbind.Cancel();
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        _unbind.Cancel();
        return ValueTask.CompletedTask;
    }

    /// <summary>Opens the device if it exists and its host side is connected; -1 otherwise.</summary>
    private int TryOpenWhenHostConnected()
    {
        int fd = SerialPortDevice.TryOpen(_endPoint.Address, requireHost: true, out string? problem);
        if (fd < 0)
        {
            Note(problem!);
        }
        return fd;
    }

    /// <summary>Logs why the port is not usable yet, once per distinct reason (this loop polls).</summary>
    private void Note(string problem)
    {
        if (problem != _lastProblem)
        {
            _lastProblem = problem;
            _logger.LogDebug("{Address}: {Problem}; retrying", _endPoint, problem);
        }
    }
}
