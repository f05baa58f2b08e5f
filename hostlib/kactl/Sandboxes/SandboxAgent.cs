using KataAgent.Host;
using KataAgent.Host.Vm;

namespace KataAgent.Kactl.Sandboxes;

/// <summary>Connects to the agent of a sandbox in the run directory, with errors that say which sandbox and why.</summary>
public static class SandboxAgent
{
    /// <summary>
    /// Connects to <paramref name="entry"/>'s agent at the address its VM's state records (a vsock port, which any
    /// number of kactl processes may use at once, or the serial channel's socket), in <paramref name="protocol"/> if
    /// given, else in the protocol the sandbox was booted with (its run record; gRPC for records from before).
    /// </summary>
    /// <exception cref="KactlException">The VM is gone (exit 1) or its agent does not answer in time (exit 3).</exception>
    public static async Task<AgentClient> ConnectAsync(SandboxEntry entry, TimeSpan timeout, AgentProtocol? protocol, CancellationToken cancellationToken)
    {
        var addresses = RequireAddresses(entry);
        var options = new AgentClientOptions { ConnectTimeout = timeout, Protocol = protocol ?? entry.Record?.Protocol ?? AgentProtocol.Grpc };
        try
        {
            return await AgentClient.ConnectAsync(addresses.Agent, options, cancellationToken).ConfigureAwait(false);
        }
        catch (AgentConnectException e)
        {
            throw new KactlException(ExitCodes.ConnectFailed, $"the agent of sandbox '{entry.Id}' does not answer: {e.Message}", e);
        }
    }

    /// <summary>The running sandbox's addresses (from its VM's state).</summary>
    /// <exception cref="KactlException">Stopped, incomplete, or without VM state (exit 1).</exception>
    public static QemuVmAddresses RequireAddresses(SandboxEntry entry)
    {
        RequireRunning(entry);
        return entry.Addresses ?? throw new KactlException(ExitCodes.VmFailed, $"sandbox '{entry.Id}' has no VM state ({Path.Combine(entry.Directory, "vm.json")} is missing or unreadable)");
    }

    /// <summary>Fails unless the sandbox's qemu is alive.</summary>
    /// <exception cref="KactlException">Stopped or incomplete (exit 1).</exception>
    public static void RequireRunning(SandboxEntry entry)
    {
        switch (entry.State)
        {
            case SandboxLiveness.Stopped:
                throw new KactlException(ExitCodes.VmFailed, $"sandbox '{entry.Id}' is stopped: its VM (qemu pid {entry.Record!.QemuPid}) is gone; 'kactl rm {entry.Id}' removes what is left");
            case SandboxLiveness.Incomplete:
                throw new KactlException(ExitCodes.VmFailed, $"sandbox '{entry.Id}' is incomplete: it is still booting, or the kactl that booted it stopped before it was ready ('kactl rm {entry.Id}' removes it)");
        }
    }
}
