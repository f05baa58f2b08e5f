using KataAgent.Testing.Kernel;
using Xunit;

namespace KataAgent.VmTests.Infrastructure;

/// <summary>
/// The tests that share <see cref="DebianKernelFixture"/>: they run one after another, so that one VM at a time boots
/// under TCG, and the agent initrd is built once for all of them. xunit wants the definition in the test assembly.
/// </summary>
[CollectionDefinition(Name)]
public sealed class DebianKernelCollection : ICollectionFixture<DebianKernelFixture>
{
    public const string Name = DebianKernelFixture.CollectionName;
}
