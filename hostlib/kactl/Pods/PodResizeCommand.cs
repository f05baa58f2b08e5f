using System.CommandLine;
using System.Globalization;
using KataAgent.Host;

namespace KataAgent.Kactl.Pods;

/// <summary>
/// <c>kactl pod resize POD --cpus N --memory SIZE</c>: resizes the pod's VM in place (Kubernetes' in-place pod
/// resize): vCPUs and memory hot-plugged or unplugged, onlined or offlined by the guest. Within the headroom the VM
/// was booted with (docs/PODS.md "Sizing"), never below its boot size.
/// </summary>
public sealed class PodResizeCommand
{
    /// <summary>The command's name.</summary>
    public const string Name = "resize";

    private readonly GlobalOptions _global;

    private readonly Argument<string> _pod = new("POD")
    {
        Description = "The pod's id (or a unique prefix), as 'kactl pod ps' lists them",
    };

    private readonly Option<int> _cpus = new("--cpus")
    {
        Description = "vCPUs to have (between the boot vCPUs and the VM's headroom)",
        HelpName = "N",
        Required = true,
    };

    private readonly Option<int> _memory = new("--memory", "-m")
    {
        Description = "Memory to have: 512M, 1G, … (a bare number is MiB; between the boot memory and the headroom)",
        HelpName = "SIZE",
        Required = true,
        CustomParser = result =>
        {
            var (mebibytes, error) = MemorySize.Parse(result.Tokens.Count == 1 ? result.Tokens[0].Value : "");
            if (error is not null)
            {
                result.AddError(error);
            }
            return mebibytes;
        },
    };

    public PodResizeCommand(GlobalOptions global)
    {
        _global = global;
        OptionChecks.Add(_cpus, cpus => cpus < 1 ? $"--cpus must be at least 1, not {cpus.ToString(CultureInfo.InvariantCulture)}" : null);
        Command = new Command(Name, "Resize a pod's VM in place (vCPUs and memory hot-plugged or unplugged); prints the size it has afterwards")
        {
            _pod,
            _cpus,
            _memory,
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
        int cpus = parseResult.GetValue(_cpus);
        int memoryMiB = parseResult.GetValue(_memory);
        try
        {
            var size = await pod.ResizeAsync(cpus, memoryMiB, cancellationToken: cancellationToken).ConfigureAwait(false);
            await Console.Out.WriteLineAsync($"{entry.Id}: {size.Cpus} vCPU, {size.MemoryMiB} MiB (up to {size.MaxCpus} vCPU, {size.MaxMemoryMiB} MiB)").ConfigureAwait(false);
            return ExitCodes.Success;
        }
        catch (KataAgentException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new KactlException(ExitCodes.For(e), $"pod '{entry.Id}': {e.Message}", e);
        }
    }
}
