using System.Security.Cryptography;
using System.Text;

namespace KataAgent.Shim.Cli;

/// <summary>
/// The shim socket convention of containerd's shim library (<c>runtime/v2/shim/util_unix.go::SocketAddress</c>),
/// which runc's and Kata's shims follow and <c>ctr shim</c> dials directly:
/// <c>unix:///run/containerd/s/</c> + hex(sha256(filepath.Join(containerd address, namespace, group id))).
/// <c>/run/containerd</c> is containerd's compiled-in default state directory, not its <c>--state</c>: every
/// containerd on a host shares <c>/run/containerd/s</c>, and the hash keeps them apart.
/// </summary>
internal static class ShimSocketAddress
{
    /// <summary>Where every shim socket lives.</summary>
    public const string Directory = "/run/containerd/s";

    /// <summary>The scheme containerd strips before dialing; without it a path would be dialed as an abstract socket.</summary>
    public const string UnixScheme = "unix://";

    /// <summary>containerd's <c>socketPathLimit</c>: longer paths are refused.</summary>
    public const int PathLimit = 106;

    /// <summary>The address (with <c>unix://</c>) of the shim serving <paramref name="groupId"/>.</summary>
    public static string For(string containerdAddress, string ns, string groupId)
    {
        string joined = GoPath.Join(containerdAddress, ns, groupId);
        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes(joined));
        return UnixScheme + Directory + "/" + Convert.ToHexStringLower(hash);
    }

    /// <summary>The socket path of <paramref name="address"/>: without <c>unix://</c>; a leading NUL for an abstract name.</summary>
    public static string PathOf(string address) =>
        address.StartsWith(UnixScheme, StringComparison.Ordinal) ? address[UnixScheme.Length..] : "\0" + address;
}
