using System.Runtime.CompilerServices;
using KataAgent.Agent.Errors;
using KataAgent.Agent.Guest;
using KataAgent.Linux.Interop;
using KataAgent.Linux.Netlink.Route;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Network;

/// <summary>
/// The guest's interfaces, routes and neighbours as the agent API sees them, over our rtnetlink
/// codec. One request at a time: each one validates everything first, then applies its steps
/// with a <see cref="RollbackLog"/>, so nothing is left half-configured. One partial file per RPC
/// family.
/// </summary>
public sealed partial class GuestNetwork : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly ILogger _logger;
    private readonly TimeSpan _hotplugTimeout;
    private readonly PciNetInterfaceLocator _pci;
    private Rtnetlink? _rtnl;

    public GuestNetwork(ILogger<GuestNetwork> logger, TimeSpan hotplugTimeout, PciNetInterfaceLocator? pci = null)
    {
        _logger = logger;
        _hotplugTimeout = hotplugTimeout;
        _pci = pci ?? new PciNetInterfaceLocator();
    }

    /// <summary>The netlink handle, opened on first use in the agent's own network namespace.</summary>
    private Rtnetlink Rtnl => _rtnl ??= Rtnetlink.Open();

    public void Dispose()
    {
        _rtnl?.Dispose();
        _gate.Dispose();
    }

    /// <summary>Runs <paramref name="work"/> alone, once the virtio-net driver is in (<see cref="DeferredModules"/>):
    /// without it the VM's NICs are not links yet, and a listing or a change would miss them.</summary>
    private async Task<T> ExclusiveAsync<T>(Func<Task<T>> work, CancellationToken cancellationToken, [CallerMemberName] string operation = "")
    {
        await DeferredModules.Boot.RequireAsync(operation.EndsWith("Async", StringComparison.Ordinal) ? operation[..^"Async".Length] : operation,
            cancellationToken, DeferredModules.VirtioNet).ConfigureAwait(false);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await work().ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Runs one step of a change. The kernel refusing what the request asked for (a bad MTU, an
    /// unreachable gateway) is the caller's error: it becomes an INVALID_ARGUMENT <see cref="AgentException"/>
    /// for <paramref name="field"/>, with the kernel's words.
    /// </summary>
    private static void Step(string field, Action action)
    {
        try
        {
            action();
        }
        catch (LinuxException e) when (e.Errno is Errno.EINVAL or Errno.ERANGE or Errno.EEXIST or Errno.ENETUNREACH or Errno.ENODEV or Errno.EADDRNOTAVAIL or Errno.ENOENT)
        {
            throw AgentException.InvalidArgument(field, e.Message);
        }
    }
}
