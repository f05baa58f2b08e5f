using KataAgent.Host.SharedFs;
using KataAgent.Host.Vm;

namespace KataAgent.Host.Sandboxes;

public sealed partial class Sandbox
{
    /// <summary>Completes when the sandbox can no longer work (its share's virtiofsd died); <see cref="_failure"/> says why.</summary>
    private readonly TaskCompletionSource _failed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Why the sandbox can no longer work, once <see cref="_failed"/> completed.</summary>
    private ShareException? _failure;

    /// <summary>
    /// Why the sandbox stopped working by itself, or null: set when its share's virtiofsd exited while the VM ran
    /// (the guest's requests to the share go unanswered, so its containers would hang in the filesystem). The sandbox
    /// then stops its VM at once, as Kata's runtime stops a sandbox whose virtiofsd died, and every pending and later
    /// container call through it fails with this error. <see cref="DestroyAsync"/> still cleans up.
    /// </summary>
    public ShareException? Failure => _failure;

    /// <summary>Waits for the VM's report of a dead virtiofsd, then fails the sandbox and stops its VM.</summary>
    private async Task StopOnVirtiofsdFailureAsync()
    {
        VirtiofsdExit exit;
        try
        {
            exit = await _vm.VirtiofsdFailure.ConfigureAwait(false);
        }
        catch (Exception)
        {
            return;
        }
        _failure = new ShareException($"sandbox {Id} stopped: its share's {exit.Message}", exit.ToException());
        _failed.TrySetResult();
        try
        {
            await _vm.StopAsync(TimeSpan.Zero, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is KataAgentException or ObjectDisposedException or InvalidOperationException or IOException)
        {
            // Torn down meanwhile, or already gone: either way the VM does not run on.
        }
    }

    /// <summary>Throws the sandbox's failure, if it has one.</summary>
    private void ThrowIfFailed()
    {
        if (_failure is { } failure)
        {
            throw failure;
        }
    }

    /// <summary>
    /// Awaits <paramref name="call"/>, unless the sandbox fails first: then the failure is thrown at once (a call into a
    /// guest whose share is gone may never be answered) and the call's own end is observed and dropped.
    /// </summary>
    private async Task<T> UnlessFailedAsync<T>(Task<T> call)
    {
        ThrowIfFailed();
        if (await Task.WhenAny(call, _failed.Task).ConfigureAwait(false) != call)
        {
            _ = call.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            throw _failure!;
        }
        return await call.ConfigureAwait(false);
    }

    private async Task UnlessFailedAsync(Task call) =>
        await UnlessFailedAsync(call.ContinueWith(static t => { t.GetAwaiter().GetResult(); return true; }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default)).ConfigureAwait(false);
}
