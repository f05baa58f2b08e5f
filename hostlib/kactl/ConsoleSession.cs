using System.Net.Sockets;

namespace KataAgent.Kactl;

/// <summary>
/// kactl's terminal joined to a byte stream (the guest's debug console): keys go in as
/// typed, output comes out as sent, with the local terminal in raw mode so that line editing,
/// echo and ^C are the guest shell's. <see cref="DetachKey"/> (Ctrl-], as telnet's escape) ends
/// it without being sent. The terminal is restored however it ends.
/// </summary>
public sealed class ConsoleSession
{
    /// <summary>Ctrl-] (GS, 0x1d).</summary>
    public const byte DetachKey = 0x1d;

    /// <summary>How the key is written in messages.</summary>
    public const string DetachKeyName = "Ctrl-]";

    private const int BufferSize = 16 * 1024;

    /// <summary>The connected console stream (owned: disposed at the end).</summary>
    public required Stream Stream { get; init; }

    /// <summary>A line for stderr once the terminal is raw (so that a script sees it only when typing is safe).</summary>
    public string? Banner { get; init; }

    /// <summary>SIGINT/SIGTERM, registered by the command.</summary>
    public required InterruptSignals Signals { get; init; }

    /// <summary>Copies both ways until one of the <see cref="ConsoleEnd"/> reasons.</summary>
    public async Task<ConsoleEnd> RunAsync()
    {
        LocalTerminal? raw = null;
        var end = new TaskCompletionSource<ConsoleEnd>(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            if (LocalTerminal.IsTerminal(StandardStreams.Stdin))
            {
                raw = LocalTerminal.MakeRaw(StandardStreams.Stdin);
            }
            if (Banner is not null)
            {
                // A raw terminal does not turn \n into a new line at column 0.
                StandardStreams.WriteAll(StandardStreams.Stderr, System.Text.Encoding.UTF8.GetBytes(Banner + (raw is null ? "\n" : "\r\n")));
            }
            using var interrupt = Signals.First.Register(() => end.TrySetResult(ConsoleEnd.Interrupted));
            var output = CopyOutAsync(end);
            StartInputPump(end);
            var result = await end.Task.ConfigureAwait(false);
            Stream.Dispose();
            await output.ConfigureAwait(false);
            return result;
        }
        finally
        {
            Stream.Dispose();
            raw?.Dispose();
        }
    }

    private async Task CopyOutAsync(TaskCompletionSource<ConsoleEnd> end)
    {
        var buffer = new byte[BufferSize];
        try
        {
            while (true)
            {
                int n = await Stream.ReadAsync(buffer).ConfigureAwait(false);
                if (n == 0 || !StandardStreams.WriteAll(StandardStreams.Stdout, buffer.AsSpan(0, n)))
                {
                    break;
                }
            }
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
        {
            // Reset by the other end, or disposed by us because the session ended first.
        }
        end.TrySetResult(ConsoleEnd.ClosedByRemote);
    }

    /// <summary>stdin into the socket on a thread of its own: a read from a terminal cannot be cancelled,
    /// and is simply abandoned when the session ends another way.</summary>
    private void StartInputPump(TaskCompletionSource<ConsoleEnd> end)
    {
        var thread = new Thread(() =>
        {
            var buffer = new byte[BufferSize];
            try
            {
                while (true)
                {
                    int n = StandardStreams.Read(StandardStreams.Stdin, buffer);
                    if (n == 0)
                    {
                        end.TrySetResult(ConsoleEnd.InputEnded);
                        return;
                    }
                    int detach = Array.IndexOf(buffer, DetachKey, 0, n);
                    // What was typed before the key still goes to the guest; the key itself never does.
                    SendAll(buffer.AsSpan(0, detach < 0 ? n : detach));
                    if (detach >= 0)
                    {
                        end.TrySetResult(ConsoleEnd.Detached);
                        return;
                    }
                }
            }
            catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
            {
                end.TrySetResult(ConsoleEnd.ClosedByRemote);
            }
            catch (Exception)
            {
                // stdin failed in a way read(2) does not explain away as EOF: treat it as ended.
                // (Never an unhandled exception on this thread: that would end kactl with the terminal raw.)
                end.TrySetResult(ConsoleEnd.InputEnded);
            }
        })
        {
            IsBackground = true,
            Name = "kactl console stdin",
        };
        thread.Start();
    }

    private void SendAll(ReadOnlySpan<byte> data)
    {
        Stream.Write(data);
        Stream.Flush();
    }
}
