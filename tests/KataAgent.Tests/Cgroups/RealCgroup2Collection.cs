using Xunit;

namespace KataAgent.Tests.Cgroups;

/// <summary>
/// Tests that touch the real cgroup2 hierarchy or count the process's descriptors: run alone, so
/// other tests' processes and descriptors cannot disturb them.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RealCgroup2Collection
{
    public const string Name = "real cgroup2";
}
