using System.Net;
using System.Net.Sockets;
using KataAgent.Linux.Netlink.Uapi;

namespace KataAgent.Linux.Netlink.Route;

/// <summary>
/// Typed rtnetlink operations over one <see cref="NetlinkSocket"/>: links, addresses, routes,
/// neighbours and the tc objects tcfilter networking needs. One partial file per object kind.
/// Errors are <see cref="Interop.LinuxException"/>s whose message names the object and carries
/// the kernel's explanation; bad arguments are rejected before anything is sent.
/// </summary>
internal sealed partial class Rtnetlink : IDisposable
{
    private readonly NetlinkSocket _socket;

    public Rtnetlink(NetlinkSocket socket) => _socket = socket;

    /// <summary>A handle on the calling thread's network namespace.</summary>
    public static Rtnetlink Open() => new(NetlinkSocket.Open());

    /// <summary>A handle on the network namespace at <paramref name="namespacePath"/>.</summary>
    public static Rtnetlink OpenInNamespace(string namespacePath) => new(NetlinkSocket.OpenInNamespace(namespacePath));

    public NetlinkSocket Socket => _socket;

    public void Dispose() => _socket.Dispose();

    private static int MaxPrefix(AddressFamily family) => family == AddressFamily.InterNetworkV6 ? 128 : 32;

    private static AddressFamily FamilyOf(byte family) => family switch
    {
        2 => AddressFamily.InterNetwork,
        10 => AddressFamily.InterNetworkV6,
        _ => AddressFamily.Unspecified,
    };

    private static void CheckPrefix(IPAddress address, int prefixLength, string what)
    {
        int max = MaxPrefix(address.AddressFamily);
        if (prefixLength < 0 || prefixLength > max)
        {
            throw new ArgumentOutOfRangeException(nameof(prefixLength), prefixLength, $"{what}: prefix length {prefixLength} is not in 0..{max} for {address}");
        }
    }
}
