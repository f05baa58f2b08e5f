using KataAgent.Rootfs.Image;
using KataAgent.Rootfs.Kernel;
using Xunit;

namespace KataAgent.Testing.Kernel;

/// <summary>
/// Debian's cloud kernel, fetched once into the default cache (~/.cache/kataagent/kernel; a ~27 MB download the
/// first time on a machine) and shared by the tests that need a real kernel.
/// </summary>
public sealed class DebianKernelFixture : IAsyncLifetime
{
    /// <summary>The name of the collection each test project defines around this fixture.</summary>
    public const string CollectionName = "Debian cloud kernel";

    private readonly TempDirectory _temp = new();
    private Task<string>? _agentInitrd;

    /// <summary>The kernel package: vmlinuz and its module tree.</summary>
    public KernelPackage Package { get; private set; } = null!;

    /// <summary>The kernel's modules, loaded once.</summary>
    public KernelModules Modules { get; private set; } = null!;

    /// <summary>How long obtaining the kernel took (download or cache hit).</summary>
    public TimeSpan ObtainTime { get; private set; }

    /// <summary>Obtains the kernel (from the cache after the first time) and loads its modules.</summary>
    public async Task InitializeAsync()
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        Package = await KernelPackage.ObtainDebianAsync();
        ObtainTime = started.Elapsed;
        Modules = await Package.LoadModulesAsync();
    }

    /// <summary>An initrd with the published agent as /init and this kernel's modules, built once for the whole collection.</summary>
    public Task<string> AgentInitrdAsync() => _agentInitrd ??= BuildAgentInitrdAsync();

    /// <summary>Removes the collection's scratch directory (the agent initrd).</summary>
    public Task DisposeAsync()
    {
        _temp.Dispose();
        return Task.CompletedTask;
    }

    private async Task<string> BuildAgentInitrdAsync()
    {
        string image = _temp.File("agent-initrd.img");
        await new InitrdBuilder(new InitrdOptions { AgentPath = RepoPaths.AgentBinary, InitHelperPath = RepoPaths.InitHelperBinary, Kernel = Modules }).BuildAsync(image);
        return image;
    }
}
