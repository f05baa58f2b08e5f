using KataAgent.Testing.Kernel;
using Xunit;

namespace KataAgent.Rootfs.Tests.Infrastructure;

/// <summary>
/// The tests that share <see cref="DebianKernelFixture"/>: they run one after another and fetch the kernel
/// once. xunit wants the definition in the test assembly.
/// </summary>
[CollectionDefinition(Name)]
public sealed class DebianKernelCollection : ICollectionFixture<DebianKernelFixture>
{
    public const string Name = DebianKernelFixture.CollectionName;
}
