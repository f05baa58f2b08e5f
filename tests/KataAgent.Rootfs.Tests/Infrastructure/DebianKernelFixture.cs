using KataAgent.Rootfs.Kernel;
using Xunit;

namespace KataAgent.Rootfs.Tests.Infrastructure;

/// <summary>
/// Debian's cloud kernel, fetched once into the default cache (~/.cache/kataagent/kernel; a ~27 MB download the
/// first time on a machine) and shared by the tests that need a real kernel.
/// </summary>
public sealed class DebianKernelFixture : IAsyncLifetime
{
    public KernelPackage Package { get; private set; } = null!;

    public KernelModules Modules { get; private set; } = null!;

    /// <summary>How long obtaining the kernel took (download or cache hit).</summary>
    public TimeSpan ObtainTime { get; private set; }

    public async Task InitializeAsync()
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        Package = await KernelPackage.ObtainDebianAsync();
        ObtainTime = started.Elapsed;
        Modules = await Package.LoadModulesAsync();
    }

    public Task DisposeAsync() => Task.CompletedTask;
}
