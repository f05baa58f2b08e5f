namespace KataAgent.Helpers.Containers.Init;

/// <summary><c>kata-agent init</c> and <c>kata-agent init2</c>: the two stages of the container helper chain (see <see cref="ContainerInit"/>).</summary>
internal sealed class ContainerInitMode(string stage) : IHelperMode
{
    public string Name => stage;

    public int ArgumentCount => 0;

    public int Run(IReadOnlyList<string> arguments) => ContainerInit.Run(stage);
}
