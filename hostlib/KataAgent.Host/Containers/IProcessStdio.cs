namespace KataAgent.Host.Containers;

/// <summary>One process's stdio, carried either by the streaming Attach extension or by Kata's unary calls.</summary>
internal interface IProcessStdio : IAsyncDisposable
{
    /// <summary>True for the kataagent.v1 Attach stream, false for Kata's unary calls.</summary>
    bool IsStreaming { get; }

    /// <summary>The process's stdout; end of stream when its output ends.</summary>
    Stream Stdout { get; }

    /// <summary>The process's stderr (ends at once for a terminal process: a terminal has one output).</summary>
    Stream Stderr { get; }

    /// <summary>Writes all of <paramref name="data"/> to the process's stdin, in order.</summary>
    /// <exception cref="IOException">The write failed (the process has gone, stdin is closed); the inner exception has the agent's status.</exception>
    Task WriteStdinAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken);

    /// <summary>Closes the process's stdin (end of input); a second call does nothing.</summary>
    Task CloseStdinAsync(CancellationToken cancellationToken);
}
