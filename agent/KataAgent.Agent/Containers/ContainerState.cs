namespace KataAgent.Agent.Containers;

public enum ContainerState
{
    Created,
    Running,
    Paused,
    Stopped,
}
