using KataAgent.Testing.Containerd;
using Xunit;

namespace KataAgent.Tests.Containerd;

/// <summary>One private containerd for the harness checks, with runc only (no shim of ours is needed to check the harness).</summary>
public sealed class RuncContainerdFixture : IAsyncLifetime
{
    private PrivateContainerd? _containerd;

    /// <summary>The running containerd.</summary>
    public PrivateContainerd Containerd => _containerd ?? throw new InvalidOperationException("not started");

    /// <inheritdoc />
    public async Task InitializeAsync() =>
        _containerd = await PrivateContainerd.StartAsync(new PrivateContainerdOptions { KataAgentRuntime = false });

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (_containerd is not null)
        {
            await _containerd.DisposeAsync();
        }
    }
}
