using CliWrap;

namespace KataAgent.Host.Vm;

/// <summary>
/// Starts a process that must die with ours (qemu, virtiofsd), whose command begins with
/// <c>setpriv --pdeathsig KILL --</c>. The parent-death signal fires when the *thread* that started the process ends, not the process, so the start
/// happens on a thread of its own that lives exactly as long as the child does.
/// </summary>
internal static class OwnedChildProcess
{
    /// <summary>Starts <paramref name="command"/> (program first); rethrows what stopped it from starting.</summary>
    public static CommandTask<CommandResult> Start(IReadOnlyList<string> command, string threadName, CancellationToken kill)
    {
        using var started = new ManualResetEventSlim();
        Exception? failure = null;
        CommandTask<CommandResult>? child = null;
        var launcher = new Thread(() =>
        {
            try
            {
                child = Cli.Wrap(command[0])
                    .WithArguments(command.Skip(1))
                    .WithValidation(CommandResultValidation.None)
                    .ExecuteAsync(kill);
            }
            catch (Exception e)
            {
                failure = e;
                started.Set();
                return;
            }
            started.Set();
            try
            {
                child.Task.Wait();
            }
            catch (AggregateException)
            {
            }
        })
        { IsBackground = true, Name = threadName };
        launcher.Start();
        started.Wait();
        if (failure is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }
        return child!;
    }
}
