namespace KataAgent.Helpers.Containers.Init;

/// <summary><c>kata-agent-init init</c>: a container's process, from the namespaces the agent spawned it in to its exec (see <see cref="ContainerInit"/>).</summary>
internal sealed class ContainerInitMode : IHelperMode
{
    public string Name => ContainerInit.ModeName;

    public int ArgumentCount => 0;

    public int Run(IReadOnlyList<string> arguments) => ContainerInit.Run();
}
