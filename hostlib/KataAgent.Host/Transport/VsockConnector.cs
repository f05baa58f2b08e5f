using KataAgent.Linux.Interop;
using KataAgent.Linux.IO;
using KataAgent.Linux.Vsock;

namespace KataAgent.Host.Transport;

/// <summary>AF_VSOCK to a guest CID (needs vhost-vsock on the host).</summary>
public sealed class VsockConnector(uint cid, uint port, string description) : IAgentConnector
{
    /// <inheritdoc />
    public string Description { get; } = description;

    /// <inheritdoc />
    public async ValueTask<Stream> ConnectAsync(CancellationToken cancellationToken)
    {
        // connect(2) on vsock blocks up to its own timeout (2 s by default); keep it off the caller's thread.
        int fd = await Task.Run(() => VsockSocket.Connect(cid, port), cancellationToken).ConfigureAwait(false);
        return new FileDescriptorStream(fd, ownsFd: true);
    }

    /// <summary>Without the vsock address family no retry can succeed.</summary>
    public bool IsPermanent(Exception exception) =>
        exception is LinuxException { Errno: Errno.EAFNOSUPPORT or Errno.EPROTONOSUPPORT };
}
