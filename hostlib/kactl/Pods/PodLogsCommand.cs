using System.CommandLine;

namespace KataAgent.Kactl.Pods;

/// <summary>
/// <c>kactl pod logs POD [CONTAINER]</c>: the containers' output (stdout to stdout, stderr to stderr), each line led
/// by its container's name when there are several, until the containers end or kactl is interrupted. The output is
/// what the agent holds for each container (bounded) and what comes after; once read it is gone from the agent, so a
/// second <c>pod logs</c> shows what came after the first.
/// </summary>
public sealed class PodLogsCommand
{
    /// <summary>The command's name.</summary>
    public const string Name = "logs";

    private readonly GlobalOptions _global;

    private readonly Argument<string> _pod = new("POD")
    {
        Description = "The pod's id (or a unique prefix), as 'kactl pod ps' lists them",
    };

    private readonly Argument<string?> _container = new("CONTAINER")
    {
        Description = "One container's name (default: every container, each line led by [name])",
        Arity = ArgumentArity.ZeroOrOne,
    };

    public PodLogsCommand(GlobalOptions global)
    {
        _global = global;
        Command = new Command(Name, "Print a pod's containers' output (led by [name]) until they end; Ctrl-C stops with exit code 0")
        {
            _pod,
            _container,
        };
        Command.SetAction(KactlCommands.Guard(RunAsync));
    }

    /// <summary>The System.CommandLine command.</summary>
    public Command Command { get; }

    private async Task<int> RunAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var entry = PodSandboxes.Find(parseResult.GetRequiredValue(_pod));
        var timeout = TimeSpan.FromSeconds(parseResult.GetValue(_global.ConnectTimeout));
        await using var pod = await PodSandboxes.AttachAsync(entry, timeout, cancellationToken).ConfigureAwait(false);
        string? only = parseResult.GetValue(_container);
        if (only is not null && pod.Containers.All(c => c.Name != only))
        {
            throw new KactlException(ExitCodes.Usage, $"pod '{entry.Id}' has no container '{only}' ({string.Join(", ", pod.Containers.Select(c => c.Name))})");
        }
        var selected = pod.Containers.Where(c => only is null || c.Name == only).ToList();
        var output = new PrefixedOutput { Prefix = selected.Count > 1 };
        try
        {
            var copies = selected.SelectMany(c => new[]
            {
                output.CopyAsync(c.Name, c.Container.InitProcess.Stdout, StandardStreams.Stdout, cancellationToken),
                output.CopyAsync(c.Name, c.Container.InitProcess.Stderr, StandardStreams.Stderr, cancellationToken),
            });
            await Task.WhenAll(copies).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Ctrl-C is how one stops following.
        }
        return ExitCodes.Success;
    }
}
