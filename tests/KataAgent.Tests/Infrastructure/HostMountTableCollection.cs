using Xunit;

namespace KataAgent.Tests.Infrastructure;

/// <summary>
/// Tests that change the host's mount table (sandbox storages and namespace pins) or compare it
/// before and after: they run one at a time so none sees another's mounts.
/// </summary>
[CollectionDefinition(Name)]
public sealed class HostMountTableCollection
{
    public const string Name = "host mount table";
}
