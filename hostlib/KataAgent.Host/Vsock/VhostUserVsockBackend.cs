using KataAgent.Host.VhostUser;
using KataAgent.Host.Vm;

namespace KataAgent.Host.Vsock;

/// <summary>
/// A vhost-user-vsock backend in this process: qemu's <c>vhost-user-vsock-pci</c> device connects to
/// <see cref="VhostUserSocketPath"/>, and the host reaches the guest's vsock ports through the hybrid-vsock
/// convention on <see cref="HybridSocketPath"/>. No kernel vhost-vsock needed.
/// </summary>
/// <remarks>
/// Both sockets listen once <see cref="Start"/> returns, so qemu can be launched right after. The backend
/// outlives qemu restarts and guest reboots (each driver start begins afresh, with every connection of the previous
/// one reset). Disposing closes every connection and deletes both socket files.
/// </remarks>
public sealed class VhostUserVsockBackend : IAsyncDisposable
{
    private readonly VirtioVsockDevice _device;
    private readonly VhostUserServer _server;
    private int _disposed;

    private VhostUserVsockBackend(VirtioVsockDevice device, VhostUserServer server, VhostUserVsockOptions options)
    {
        _device = device;
        _server = server;
        VhostUserSocketPath = options.VhostUserSocketPath;
        HybridSocketPath = options.HybridSocketPath;
        GuestCid = options.GuestCid;
    }

    /// <summary>The vhost-user socket qemu connects to.</summary>
    public string VhostUserSocketPath { get; }

    /// <summary>The hybrid-vsock socket host clients connect to (<c>hvsock://PATH:PORT</c>).</summary>
    public string HybridSocketPath { get; }

    /// <summary>The guest's context id.</summary>
    public uint GuestCid { get; }

    /// <summary>Ends when the backend is disposed; faults if the vhost-user server fails for good.</summary>
    public Task Completion => _server.Completion;

    /// <summary>Binds both sockets and serves them in the background.</summary>
    /// <exception cref="ArgumentException">An option is missing or out of range (the message names it).</exception>
    /// <exception cref="VmException">A socket cannot be bound: in use by a live process, a directory missing, a path too long.</exception>
    public static VhostUserVsockBackend Start(VhostUserVsockOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrEmpty(options.VhostUserSocketPath))
        {
            throw new ArgumentException("VhostUserSocketPath is empty", nameof(options));
        }
        if (string.IsNullOrEmpty(options.HybridSocketPath))
        {
            throw new ArgumentException("HybridSocketPath is empty", nameof(options));
        }
        if (options.GuestCid is <= 2 or uint.MaxValue)
        {
            throw new ArgumentException($"GuestCid {options.GuestCid} is reserved: use 3 up to 4294967294", nameof(options));
        }
        if (string.Equals(Path.GetFullPath(options.VhostUserSocketPath), Path.GetFullPath(options.HybridSocketPath), StringComparison.Ordinal))
        {
            throw new ArgumentException("VhostUserSocketPath and HybridSocketPath are the same file", nameof(options));
        }

        // One synchronized writer for both parts, so their lines never interleave mid-line.
        var log = options.Log is null ? null : TextWriter.Synchronized(options.Log);
        VirtioVsockDevice device;
        try
        {
            device = new VirtioVsockDevice(new VirtioVsockDeviceOptions
            {
                GuestCid = options.GuestCid,
                HybridSocketPath = options.HybridSocketPath,
                Log = log,
            });
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Net.Sockets.SocketException)
        {
            throw new VmException($"vhost-user-vsock: cannot listen on HybridSocketPath {options.HybridSocketPath}: {e.Message}", e);
        }
        try
        {
            var server = VhostUserServer.Listen(options.VhostUserSocketPath, device, log);
            return new VhostUserVsockBackend(device, server, options);
        }
        catch (Exception e)
        {
            device.Dispose();
            if (e is IOException or UnauthorizedAccessException or ArgumentException)
            {
                throw new VmException($"vhost-user-vsock: cannot listen on VhostUserSocketPath {options.VhostUserSocketPath}: {e.Message}", e);
            }
            throw;
        }
    }

    /// <summary>Stops serving qemu, resets every connection, closes and deletes both sockets.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        // The server first: it stops the device's queues; then the device closes the host side.
        try
        {
            await _server.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            _device.Dispose();
        }
        try
        {
            await _device.AcceptLoop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }
}
