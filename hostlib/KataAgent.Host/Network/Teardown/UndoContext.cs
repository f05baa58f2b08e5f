using KataAgent.Linux.Netlink.Route;

namespace KataAgent.Host.Network.Teardown;

/// <summary>
/// The pod netns an <see cref="UndoStack"/> restores. The endpoint that made the changes hands over the
/// rtnetlink handle it kept open (bound to the netns itself, it keeps working after CNI unmounted the
/// path); a teardown from the journal opens one by path, and when the path is gone the netns is gone with
/// everything in it, so the netlink steps have nothing left to undo.
/// </summary>
internal sealed class UndoContext : IDisposable
{
    private readonly bool _owned;
    private Rtnetlink? _rtnl;
    private bool _opened;

    public UndoContext(string namespacePath, Rtnetlink? rtnl = null)
    {
        NamespacePath = namespacePath;
        _rtnl = rtnl;
        _opened = rtnl is not null;
        _owned = rtnl is null;
    }

    public string NamespacePath { get; }

    /// <summary>The netns's rtnetlink, or null when the netns no longer exists.</summary>
    public Rtnetlink? Rtnl
    {
        get
        {
            if (!_opened)
            {
                _opened = true;
                _rtnl = File.Exists(NamespacePath) ? PodNetworkScanner.Open(NamespacePath) : null;
            }
            return _rtnl;
        }
    }

    public void Dispose()
    {
        if (_owned)
        {
            _rtnl?.Dispose();
        }
    }
}
