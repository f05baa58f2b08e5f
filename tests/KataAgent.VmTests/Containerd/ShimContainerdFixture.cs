using System.Text.Json.Nodes;
using KataAgent.Testing.Containerd;
using Xunit;

namespace KataAgent.VmTests.Containerd;

/// <summary>
/// One private containerd with our runtime registered (ctr's io.containerd.kataagent.v2 and CRI's handler
/// "kataagent", out/containerd-shim-kataagent-v2 with a test configuration of out/vmlinuz and out/initrd.img) for a
/// test class. The sizing caps are fixed (4 vCPUs, 2 GiB) so that what the VM gets does not depend on the host.
/// </summary>
public sealed class ShimContainerdFixture : IAsyncLifetime
{
    /// <summary>The sizing the shim configuration carries (docs/SHIM.md "Sizing").</summary>
    public static readonly IReadOnlyDictionary<string, JsonNode?> ShimSettings = new Dictionary<string, JsonNode?>
    {
        ["sizing"] = new JsonObject { ["baseCpus"] = 1, ["baseMemoryMiB"] = 256, ["defaultMemoryMiB"] = 256, ["maxCpus"] = 4, ["maxMemoryMiB"] = 2048 },
    };

    private PrivateContainerd? _containerd;

    /// <summary>The running containerd.</summary>
    public PrivateContainerd Containerd => _containerd ?? throw new InvalidOperationException("not started");

    /// <inheritdoc />
    public async Task InitializeAsync() =>
        _containerd = await PrivateContainerd.StartAsync(new PrivateContainerdOptions { ShimSettings = ShimSettings });

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (_containerd is not null)
        {
            await _containerd.DisposeAsync();
        }
    }
}
