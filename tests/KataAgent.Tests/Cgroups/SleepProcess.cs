using CliWrap;

namespace KataAgent.Tests.Cgroups;

/// <summary>A child process (default `sleep 30`) the tests move between cgroups and kill; killed on Dispose if still running.</summary>
public sealed class SleepProcess : IAsyncDisposable
{
    private readonly CancellationTokenSource _kill = new();
    private readonly CommandTask<CommandResult> _task;

    public SleepProcess(string program = "sleep", params string[] arguments)
    {
        _task = Cli.Wrap(program)
            .WithArguments(arguments.Length == 0 ? ["30"] : arguments)
            .WithValidation(CommandResultValidation.None)
            .ExecuteAsync(_kill.Token);
    }

    /// <summary>A shell spinning on the CPU, so freezing shows up in its CPU time.</summary>
    public static SleepProcess Busy() => new("sh", "-c", "while :; do :; done");

    public int Pid => _task.ProcessId;

    public bool HasExited => _task.Task.IsCompleted;

    /// <summary>True when the process ends within <paramref name="timeout"/>.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        try
        {
            await _task.Task.WaitAsync(timeout);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
        catch (OperationCanceledException)
        {
            return true;
        }
    }

    /// <summary>User-mode CPU time in clock ticks, from /proc/PID/stat.</summary>
    public long UserTicks()
    {
        string stat = File.ReadAllText($"/proc/{Pid}/stat");
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[11]); // field 14 (utime); fields[0] is field 3 (state)
    }

    public async ValueTask DisposeAsync()
    {
        if (!HasExited)
        {
            _kill.Cancel();
            await WaitForExitAsync(TimeSpan.FromSeconds(5));
        }
        _kill.Dispose();
    }
}
