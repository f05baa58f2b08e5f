using System.CommandLine;

namespace KataAgent.Kactl.Pods;

/// <summary><c>kactl pod</c>: a whole Kubernetes Pod manifest in a VM of its own (run, ps, logs, exec, resize, rm).</summary>
public sealed class PodCommand
{
    /// <summary>The command's name.</summary>
    public const string Name = "pod";

    public PodCommand(GlobalOptions global)
    {
        Command = new Command(Name, "Run a Kubernetes Pod manifest (YAML or JSON) in a VM of its own, sized from its requests: pod run, ps, logs, exec, resize, rm")
        {
            new PodRunCommand(global).Command,
            new PodPsCommand(global).Command,
            new PodLogsCommand(global).Command,
            new PodExecCommand(global).Command,
            new PodResizeCommand(global).Command,
            new PodRmCommand(global).Command,
        };
    }

    /// <summary>The System.CommandLine command.</summary>
    public Command Command { get; }
}
