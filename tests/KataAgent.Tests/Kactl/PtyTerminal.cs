using System.Text;
using CliWrap;
using KataAgent.Linux.Interop;
using KataAgent.Linux.IO;
using KataAgent.Linux.Terminals;
using KataAgent.Tests.Infrastructure;

namespace KataAgent.Tests.Kactl;

/// <summary>A pty whose slave is kactl's stdin, stdout and stderr; the test holds the master (and a slave fd, to read its settings).</summary>
public sealed class PtyTerminal : IAsyncDisposable
{
    private readonly PseudoTerminal _pty = PseudoTerminal.Open();
    private readonly int _slaveFd;
    private readonly FileDescriptorStream _master;
    private readonly StringBuilder _output = new();
    private readonly Task _reader;
    private readonly CancellationTokenSource _stop = new();

    public PtyTerminal()
    {
        _slaveFd = Libc.Check(Libc.Open(_pty.SlavePath, Libc.O_RDWR | Libc.O_NOCTTY | Libc.O_CLOEXEC), "open pty slave");
        _master = new FileDescriptorStream((int)_pty.Master.DangerousGetHandle(), ownsFd: false);
        _reader = Task.Run(ReadAsync);
    }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Starts out/kactl with the slave as fds 0, 1 and 2 (through a shell's redirections).</summary>
    public Task<CommandResult> Run(TempDirectory runDirectory, params string[] arguments) =>
        Cli.Wrap("sh")
            .WithArguments(["-c", "slave=$1; shift; exec \"$@\" <\"$slave\" >\"$slave\" 2>&1", "sh", _pty.SlavePath, RepoPaths.KactlBinary, .. arguments])
            .WithEnvironmentVariables(env => env.Set("KACTL_RUN_DIR", runDirectory.Path))
            .WithValidation(CommandResultValidation.None)
            .ExecuteAsync(_stop.Token).Task;

    /// <summary>As <see cref="Run(TempDirectory, string[])"/>, with <paramref name="environment"/> set for kactl.</summary>
    public Task<CommandResult> Run(IReadOnlyDictionary<string, string?> environment, params string[] arguments) =>
        Cli.Wrap("sh")
            .WithArguments(["-c", "slave=$1; shift; exec \"$@\" <\"$slave\" >\"$slave\" 2>&1", "sh", _pty.SlavePath, RepoPaths.KactlBinary, .. arguments])
            .WithEnvironmentVariables(env =>
            {
                foreach (var (name, value) in environment)
                {
                    env.Set(name, value);
                }
            })
            .WithValidation(CommandResultValidation.None)
            .ExecuteAsync(_stop.Token).Task;

    public void Type(string text) => _master.Write(Encoding.Latin1.GetBytes(text));

    /// <summary>The slave's c_lflag (ICANON, ECHO, …).</summary>
    public unsafe int LocalFlags()
    {
        byte* termios = stackalloc byte[Libc.TermiosSize];
        Libc.Check(Libc.TcGetAttr(_slaveFd, termios), "tcgetattr");
        // struct termios { tcflag_t c_iflag, c_oflag, c_cflag, c_lflag; … }
        return ((int*)termios)[3];
    }

    /// <summary>Waits until the terminal showed <paramref name="text"/>; fails early if <paramref name="kactl"/> is given and exits first.</summary>
    public async Task WaitForOutputAsync(string text, Task<CommandResult>? kactl = null)
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (!Output.Contains(text, StringComparison.Ordinal))
        {
            if (kactl is { IsCompleted: true })
            {
                throw new InvalidOperationException($"kactl exited ({(await kactl).ExitCode}) before printing '{text}':\n{Output}");
            }
            if (limit.IsCancellationRequested)
            {
                throw new TimeoutException($"the terminal did not show '{text}':\n{Output}");
            }
            await Task.Delay(20);
        }
    }

    private async Task ReadAsync()
    {
        var buffer = new byte[4096];
        while (true)
        {
            int n = await _master.ReadAsync(buffer);
            if (n == 0)
            {
                return;
            }
            lock (_output)
            {
                _output.Append(Encoding.Latin1.GetString(buffer, 0, n));
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _master.Dispose();
        try
        {
            await _reader.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or TimeoutException or OperationCanceledException)
        {
        }
        Libc.Close(_slaveFd);
        _pty.Dispose();
        _stop.Dispose();
    }
}
