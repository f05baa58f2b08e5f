using System.Net.Sockets;
using KataAgent.Shim.Interop;
using KataAgent.Linux.Interop;

namespace KataAgent.Shim.Daemon;

/// <summary>
/// The same-user check containerd installs on every shim's ttrpc server (<c>UnixSocketRequireSameUser</c>): the
/// peer's uid and gid, as SO_PEERCRED recorded them at connect, must equal this process's effective uid and gid.
/// </summary>
internal static unsafe class PeerCredentials
{
    /// <summary>The peer's pid, uid and gid.</summary>
    public static ShimLibc.UCred Of(Socket connection)
    {
        ShimLibc.UCred credentials;
        uint length = (uint)sizeof(ShimLibc.UCred);
        bool referenced = false;
        try
        {
            connection.SafeHandle.DangerousAddRef(ref referenced);
            ShimLibc.Check(Libc.GetSockOpt((int)connection.SafeHandle.DangerousGetHandle(), Libc.SOL_SOCKET, ShimLibc.SO_PEERCRED,
                &credentials, &length), "getsockopt(SO_PEERCRED)");
        }
        finally
        {
            if (referenced)
                connection.SafeHandle.DangerousRelease();
        }
        return credentials;
    }

    /// <summary>Null when the peer is this process's user and group, else why it is refused.</summary>
    public static string? Refusal(Socket connection)
    {
        var peer = Of(connection);
        uint uid = Libc.GetEuid();
        uint gid = ShimLibc.GetEgid();
        return peer.Uid == uid && peer.Gid == gid
            ? null
            : $"ttrpc: peer pid {peer.Pid} runs as uid {peer.Uid} gid {peer.Gid}, not {uid}:{gid}";
    }
}
