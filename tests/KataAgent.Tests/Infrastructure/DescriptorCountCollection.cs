using Xunit;

namespace KataAgent.Tests.Infrastructure;

/// <summary>
/// Tests that count this process's open fds of a kind before and after (<see cref="OpenDescriptors"/>): they run
/// alone, so no other test opens or closes one of those meanwhile.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DescriptorCountCollection
{
    public const string Name = "descriptor count";
}
