using KataAgent.Helpers.Processes;
using System.Text;
using KataAgent.Agent.Containers.Processes;
using KataAgent.Linux.Interop;
using KataAgent.Linux.IO;

namespace KataAgent.Agent.Processes;

/// <summary>
/// Runs one of the guest's own tools (iptables-save, iptables-restore) to completion: input on its
/// stdin, stdout and stderr collected, spawned with posix_spawn and reaped by the agent's reaper
/// (never System.Diagnostics.Process, whose SIGCHLD handling would race the reaper). A tool still
/// running when the call is cancelled or times out is killed.
/// </summary>
public sealed class ToolRunner(ProcessReaper reaper)
{
    /// <summary>The PATH tools get: they may run modprobe and friends.</summary>
    private static readonly string[] Environment = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"];

    /// <summary>The directories a tool is looked for in, in order (Kata looks in /usr/sbin, then /sbin).</summary>
    public static readonly IReadOnlyList<string> SearchPath = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"];

    /// <summary>The full path of <paramref name="name"/> in <paramref name="searchPath"/>, or null when the guest has none.</summary>
    public static string? Find(string name, IReadOnlyList<string> searchPath) =>
        searchPath.Select(directory => Path.Combine(directory, name)).FirstOrDefault(File.Exists);

    /// <summary>Runs <paramref name="path"/> with <paramref name="arguments"/>, feeding it <paramref name="input"/>.</summary>
    public async Task<ToolResult> RunAsync(string path, IReadOnlyList<string> arguments, ReadOnlyMemory<byte> input, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var (stdinRead, stdinWrite) = Libc.Pipe();
        var (stdoutRead, stdoutWrite) = Libc.Pipe();
        var (stderrRead, stderrWrite) = Libc.Pipe();
        int pid;
        Task<int> exit;
        try
        {
            (pid, exit) = reaper.SpawnWatched(() => ProcessSpawner.Spawn(path, [Path.GetFileName(path), .. arguments], Environment, [stdinRead, stdoutWrite, stderrWrite]));
        }
        catch
        {
            Libc.Close(stdinWrite);
            Libc.Close(stdoutRead);
            Libc.Close(stderrRead);
            throw;
        }
        finally
        {
            Libc.Close(stdinRead);
            Libc.Close(stdoutWrite);
            Libc.Close(stderrWrite);
        }
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        using var kill = deadline.Token.Register(() => Libc.Kill(pid, Libc.SIGKILL));
        await using var stdin = new FileDescriptorStream(stdinWrite, ownsFd: true);
        await using var stdout = new FileDescriptorStream(stdoutRead, ownsFd: true);
        await using var stderr = new FileDescriptorStream(stderrRead, ownsFd: true);
        var output = ReadAllAsync(stdout);
        var errors = ReadAllAsync(stderr);
        try
        {
            await stdin.WriteAsync(input, deadline.Token).ConfigureAwait(false);
        }
        catch (IOException)
        {
            // The tool stopped reading (it failed early); its stderr says why.
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            // Killed while its input was still going in: reaped below, then reported.
        }
        await stdin.DisposeAsync().ConfigureAwait(false);
        int status = await exit.ConfigureAwait(false);
        // Reaped: its pid may be reused from now on, so the deadline must no longer kill it.
        kill.Dispose();
        byte[] stdoutBytes = await output.ConfigureAwait(false);
        byte[] stderrBytes = await errors.ConfigureAwait(false);
        if (deadline.IsCancellationRequested)
        {
            cancellationToken.ThrowIfCancellationRequested();
            throw new TimeoutException($"{path} did not finish within {timeout.TotalSeconds:0} s and was killed");
        }
        return new ToolResult(status, stdoutBytes, Encoding.UTF8.GetString(stderrBytes).Trim());
    }

    private static async Task<byte[]> ReadAllAsync(Stream stream)
    {
        using var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer).ConfigureAwait(false);
        return buffer.ToArray();
    }
}
