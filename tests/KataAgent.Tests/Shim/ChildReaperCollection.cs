using Xunit;

namespace KataAgent.Tests.Shim;

/// <summary>
/// The reaper's tests reap this process's zombie children: they run alone, so no other test's child (one an
/// in-process agent reaps itself, a little later) is there to be taken.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ChildReaperCollection
{
    public const string Name = "shim child reaper";
}
