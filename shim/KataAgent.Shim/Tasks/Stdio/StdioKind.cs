namespace KataAgent.Shim.Tasks.Stdio;

/// <summary>What a stdio path from containerd names (containerd's <c>pkg/process/io.go</c> schemes).</summary>
internal enum StdioKind
{
    /// <summary>No path: the stream is not wanted (its output is drained and dropped).</summary>
    None,

    /// <summary>A FIFO the client made (a path with no scheme, or <c>fifo://</c>).</summary>
    Fifo,

    /// <summary>A file (<c>file://</c>), appended to.</summary>
    File,

    /// <summary>A logging binary (<c>binary://</c>) that reads the process's stdout and stderr (<see cref="BinaryLogger"/>).</summary>
    Binary,
}
