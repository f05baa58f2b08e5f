using System.Text.Json.Nodes;

namespace KataAgent.Host.Vm;

public sealed partial class QemuVm
{
    /// <summary>How long a share's virtiofsd gets to exit by itself once qemu let go of it, before it is signalled.</summary>
    private static readonly TimeSpan VirtiofsdExitGrace = TimeSpan.FromSeconds(2);

    /// <summary>One per share attached now, in the order they were attached; guarded by itself.</summary>
    private readonly List<Virtiofsd> _virtiofsds = [];

    private readonly TaskCompletionSource<VirtiofsdExit> _virtiofsdFailure = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The directories shared into the guest now: <see cref="QemuOptions.SharedDirectories"/> and the hot-plugged ones, minus the removed ones.</summary>
    public IReadOnlyList<QemuSharedDirectory> SharedDirectories
    {
        get
        {
            lock (_virtiofsds)
            {
                return [.. _virtiofsds.Select(d => d.Share)];
            }
        }
    }

    /// <summary>
    /// Completes when a share's virtiofsd exits while qemu runs on (killed, crashed, or gone when an attached VM's
    /// shares were looked for), with the tag, the exit code and the tail of its log. The guest's requests to that share
    /// then go unanswered (its processes hang in the filesystem), so the VM is no longer sound: stop it with
    /// <see cref="VirtiofsdExit.ToException"/> as the reason, as Kata's runtime stops a sandbox whose virtiofsd died.
    /// Exits this object causes (<see cref="StopAsync"/>, <see cref="RemoveSharedDirectoryAsync"/>) and the ones that
    /// follow qemu's own exit (virtiofsd ends when qemu disconnects) do not count; without a failure it never completes.
    /// </summary>
    public Task<VirtiofsdExit> VirtiofsdFailure => _virtiofsdFailure.Task;

    /// <summary>The log of the virtiofsd of the share tagged <paramref name="tag"/> (virtiofsd-TAG.log in the state directory).</summary>
    public string VirtiofsdLogPath(string tag) => Virtiofsd.LogPathFor(_options.StateDirectory, tag);

    /// <summary>
    /// Shares <paramref name="share"/> with the running guest: starts its virtiofsd, then hot-plugs a
    /// <c>vhost-user-fs-pci</c> device into a free hot-plug root port (QMP <c>chardev-add</c>, then <c>device_add</c>),
    /// and returns once the guest's virtio-fs driver has taken the device (its status is DRIVER_OK), so the tag can be
    /// mounted at once (the agent's <c>virtio-fs</c> storage driver does not wait for a tag, as Kata's does not).
    /// The share is recorded in vm.json, so an attached VM knows it.
    /// </summary>
    /// <exception cref="ArgumentException">The tag is not valid, or this VM already has a share with it.</exception>
    /// <exception cref="DirectoryNotFoundException">The directory does not exist.</exception>
    /// <exception cref="FileNotFoundException">virtiofsd is not installed (<see cref="QemuOptions.VirtiofsdPath"/>).</exception>
    /// <exception cref="VmException">No hot-plug port is free, virtiofsd did not start (its log tail in the message), or
    /// the guest did not take the device within <see cref="QemuOptions.HotplugTimeout"/>.</exception>
    /// <exception cref="QmpException">qemu refused the device.</exception>
    public async Task AddSharedDirectoryAsync(QemuSharedDirectory share, CancellationToken cancellationToken = default)
    {
        share = ValidateShare(share);
        RequireVirtiofsd(_options.VirtiofsdPath);
        await _hotplugLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (FindVirtiofsd(share.Tag) is not null)
            {
                throw new ArgumentException($"this VM already shares a directory tagged '{share.Tag}'", nameof(share));
            }
            int port = await FreeHotplugPortAsync(cancellationToken).ConfigureAwait(false);
            var daemon = await Virtiofsd.StartAsync(_options.VirtiofsdPath, _options.StateDirectory, share, _options.Detached, cancellationToken).ConfigureAwait(false);
            try
            {
                await AddShareChardevAsync(share, daemon, cancellationToken).ConfigureAwait(false);
                try
                {
                    await Qmp.ExecuteAsync("device_add", new JsonObject
                    {
                        ["driver"] = "vhost-user-fs-pci",
                        ["chardev"] = ShareChardevId(share.Tag),
                        ["tag"] = share.Tag,
                        ["id"] = ShareDeviceId(share.Tag),
                        ["queue-size"] = VirtioFsQueueSize,
                        ["num-request-queues"] = share.RequestQueues,
                        ["bus"] = RootPortId(port),
                    }, cancellationToken).ConfigureAwait(false);
                }
                catch (QmpException)
                {
                    await Qmp.ExecuteAsync("chardev-remove", new JsonObject { ["id"] = ShareChardevId(share.Tag) }, CancellationToken.None).ConfigureAwait(false);
                    throw;
                }
            }
            catch
            {
                await daemon.StopAsync(TimeSpan.Zero).ConfigureAwait(false);
                throw;
            }
            Track(daemon);
            await SaveStateAsync(CancellationToken.None).ConfigureAwait(false);
            await WaitForGuestDriverAsync(share.Tag, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _hotplugLock.Release();
        }
    }

    /// <summary>
    /// Takes the share tagged <paramref name="tag"/> (cold- or hot-plugged) out of the guest: QMP <c>device_del</c>,
    /// then waits for qemu's <c>DEVICE_DELETED</c> (the guest released it), <c>chardev-remove</c>, and its virtiofsd
    /// ends (it exits once qemu disconnects; it is signalled if it does not); its socket is removed and its root port
    /// free for a hot-plug again. Unmount it in the guest first: the guest does not refuse, its users lose the files.
    /// </summary>
    /// <exception cref="VmException">No share has that tag, or the guest did not release the device within
    /// <see cref="QemuOptions.UnplugTimeout"/> (calling again later finishes the removal).</exception>
    public async Task RemoveSharedDirectoryAsync(string tag, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(tag);
        await _hotplugLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var daemon = FindVirtiofsd(tag) ?? throw new VmException($"this VM shares no directory tagged '{tag}'");
            // From here on its exit is ours, not a failure to report.
            daemon.MarkStopping();
            string id = ShareDeviceId(tag);
            bool deviceWasThere = await UnplugDeviceAsync(id, $"shared directory '{tag}'", "its virtiofsd keeps running until RemoveSharedDirectoryAsync is called again after the guest lets go", cancellationToken).ConfigureAwait(false);
            try
            {
                await Qmp.ExecuteAsync("chardev-remove", new JsonObject { ["id"] = ShareChardevId(tag) }, CancellationToken.None).ConfigureAwait(false);
            }
            catch (QmpException e) when (e.ErrorClass == "GenericError" && !deviceWasThere)
            {
                // Removed by an earlier call that timed out after device_del went through.
            }
            await daemon.StopAsync(VirtiofsdExitGrace).ConfigureAwait(false);
            lock (_virtiofsds)
            {
                _virtiofsds.Remove(daemon);
            }
            await SaveStateAsync(CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            _hotplugLock.Release();
        }
    }

    /// <summary>Starts the virtiofsd of every <see cref="QemuOptions.SharedDirectories"/> entry; qemu connects to them as it starts.</summary>
    private async Task StartVirtiofsdsAsync(CancellationToken cancellationToken)
    {
        foreach (var share in _options.SharedDirectories)
        {
            Track(await Virtiofsd.StartAsync(_options.VirtiofsdPath, _options.StateDirectory, share, _options.Detached, cancellationToken).ConfigureAwait(false));
        }
    }

    /// <summary>Finds the virtiofsds of an attached VM's shares again; one that is gone is reported as a failure.</summary>
    private void AttachVirtiofsds(IReadOnlyList<QemuSharedDirectory> shares)
    {
        foreach (var share in shares)
        {
            if (Virtiofsd.TryAttach(_options.StateDirectory, share) is { } daemon)
            {
                Track(daemon);
            }
            else
            {
                _virtiofsdFailure.TrySetResult(new VirtiofsdExit(share.Tag, share.HostPath, null, Virtiofsd.LogTailOf(VirtiofsdLogPath(share.Tag))));
            }
        }
    }

    private void Track(Virtiofsd daemon)
    {
        lock (_virtiofsds)
        {
            _virtiofsds.Add(daemon);
        }
        _ = WatchAsync(daemon);
    }

    private Virtiofsd? FindVirtiofsd(string tag)
    {
        lock (_virtiofsds)
        {
            return _virtiofsds.Find(d => d.Share.Tag == tag);
        }
    }

    /// <summary>Reports an exit nobody asked for while qemu runs on.</summary>
    private async Task WatchAsync(Virtiofsd daemon)
    {
        int? code = await daemon.Exited.ConfigureAwait(false);
        if (daemon.Stopping || _closed || _process is not { } qemu)
        {
            return;
        }
        // A guest power-off or a quit ends qemu, and qemu's disconnect ends virtiofsd: not a failure. qemu closes its
        // sockets as it exits, so give its own exit a moment to show before calling this one a failure.
        try
        {
            await qemu.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
            return;
        }
        catch (TimeoutException)
        {
        }
        catch (ObjectDisposedException)
        {
            return;
        }
        if (!daemon.Stopping && !_closed)
        {
            _virtiofsdFailure.TrySetResult(new VirtiofsdExit(daemon.Share.Tag, daemon.Share.HostPath, code, daemon.LogTail()));
        }
    }

    /// <summary>
    /// Polls QMP <c>x-query-virtio-status</c> until the guest's driver has set DRIVER_OK on the share's device: the
    /// virtio-fs driver registers the tag as it does, so a mount by tag finds it from then on.
    /// </summary>
    private async Task WaitForGuestDriverAsync(string tag, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + _options.HotplugTimeout;
        var path = new JsonObject { ["path"] = $"/machine/peripheral/{ShareDeviceId(tag)}/virtio-backend" };
        while (true)
        {
            var status = await Qmp.ExecuteAsync("x-query-virtio-status", path.DeepClone().AsObject(), cancellationToken).ConfigureAwait(false);
            if (status.TryGetProperty("status", out var device) && device.ToString().Contains("DRIVER_OK", StringComparison.Ordinal))
            {
                return;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new VmException($"the guest did not take the virtio-fs device of shared directory '{tag}' within {_options.HotplugTimeout.TotalSeconds:0.#} s (QemuOptions.HotplugTimeout): its status is {device}; is the virtiofs module loaded?");
            }
            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Stops every share's virtiofsd (qemu has gone, so they are ending by themselves) and removes their sockets.</summary>
    private async Task StopVirtiofsdsAsync(TimeSpan grace)
    {
        Virtiofsd[] daemons;
        lock (_virtiofsds)
        {
            daemons = [.. _virtiofsds];
            _virtiofsds.Clear();
        }
        await Task.WhenAll(daemons.Select(d => d.StopAsync(grace))).ConfigureAwait(false);
    }

    /// <summary>Lets go of the virtiofsds without stopping them (a detached VM that runs on).</summary>
    private void CloseVirtiofsds()
    {
        lock (_virtiofsds)
        {
            foreach (var daemon in _virtiofsds)
            {
                daemon.Close();
            }
        }
    }

    /// <summary>
    /// QMP <c>chardev-add</c> of the client end of <paramref name="daemon"/>'s vhost-user socket. virtiofsd binds its socket
    /// file before it listens on it, so a connect in between is refused: that is retried while virtiofsd runs, for
    /// up to 10 s. A refused connect costs virtiofsd nothing (it serves only the first connection that is accepted).
    /// </summary>
    private async Task AddShareChardevAsync(QemuSharedDirectory share, Virtiofsd daemon, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            try
            {
                await Qmp.ExecuteAsync("chardev-add", new JsonObject
                {
                    ["id"] = ShareChardevId(share.Tag),
                    ["backend"] = new JsonObject
                    {
                        ["type"] = "socket",
                        ["data"] = new JsonObject
                        {
                            ["addr"] = new JsonObject { ["type"] = "unix", ["data"] = new JsonObject { ["path"] = daemon.SocketPath } },
                            ["server"] = false,
                        },
                    },
                }, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (QmpException e) when (e.Description.Contains("Connection refused", StringComparison.Ordinal) && daemon.IsRunning && DateTime.UtcNow < deadline)
            {
                await Task.Delay(20, cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
