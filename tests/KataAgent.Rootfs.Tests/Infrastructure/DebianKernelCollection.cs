using Xunit;

namespace KataAgent.Rootfs.Tests.Infrastructure;

/// <summary>The tests that share <see cref="DebianKernelFixture"/> (they run one after another).</summary>
[CollectionDefinition(Name)]
public sealed class DebianKernelCollection : ICollectionFixture<DebianKernelFixture>
{
    public const string Name = "Debian cloud kernel";
}
