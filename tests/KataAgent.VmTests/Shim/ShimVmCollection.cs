using Xunit;

namespace KataAgent.VmTests.Shim;

/// <summary>The task service's VM tests: one after another, so that one shim's VM boots at a time under TCG.</summary>
[CollectionDefinition(Name)]
public sealed class ShimVmCollection
{
    public const string Name = "shim task service VMs";
}
