using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace KataAgent.Host.Vm;

public sealed partial class QemuVm
{
    /// <summary>How often a migration's progress is asked from qemu.</summary>
    private static readonly TimeSpan MigrationPoll = TimeSpan.FromMilliseconds(200);

    /// <summary>The socket a save or a load streams the VM's state through (qemu's <c>unix:</c> migration URI).</summary>
    private string MigrationSocketPath => Path.Combine(_options.StateDirectory, "migrate.sock");

    /// <summary>What a restore adds to the command line: the hot-plugged devices, and <c>-incoming defer</c>.</summary>
    private QemuHotplugState? _incoming;

    /// <summary>
    /// Why this VM cannot be migrated, device by device, each with the option that avoids it; empty when it can. Our
    /// own knowledge first (the virtio-fs shares and the vhost-user-vsock device, which qemu 7.2 marks unmigratable),
    /// then qemu's <c>query-migrate</c> <c>blocked-reasons</c> for anything else it knows of.
    /// </summary>
    internal async Task<IReadOnlyList<string>> MigrationBlockersAsync(CancellationToken cancellationToken)
    {
        var blockers = new List<string>();
        foreach (var share in SharedDirectories)
        {
            blockers.Add($"virtio-fs share '{share.Tag}' (device {ShareDeviceId(share.Tag)}, vhost-user-fs-pci) cannot be migrated by qemu: "
                + "start the sandbox with RootfsMode = Blk (kactl run --rootfs-mode blk) and no shared directories");
        }
        if (VsockDevice == QemuVsockDevice.VhostUser)
        {
            blockers.Add("the agent's vhost-user-vsock device (vsock0) cannot be migrated by qemu: "
                + "start the sandbox with AgentChannel = Serial (kactl run --agent-channel serial)");
        }
        var status = await Qmp.ExecuteAsync("query-migrate", cancellationToken: cancellationToken).ConfigureAwait(false);
        if (status.TryGetProperty("blocked-reasons", out var reasons) && blockers.Count == 0)
        {
            foreach (var reason in reasons.EnumerateArray())
            {
                blockers.Add($"qemu: {reason.GetString()}");
            }
        }
        return blockers;
    }

    /// <summary>The devices hot-plugged now (vCPUs, DIMMs, disks), from qemu itself.</summary>
    internal async Task<QemuHotplugState> QueryHotplugStateAsync(CancellationToken cancellationToken)
    {
        var cpus = new List<QemuHotplugCpu>();
        foreach (var slot in (await Qmp.ExecuteAsync("query-hotpluggable-cpus", cancellationToken: cancellationToken).ConfigureAwait(false)).EnumerateArray())
        {
            if (slot.TryGetProperty("qom-path", out var path) && path.GetString() is { } qom && qom.StartsWith(PeripheralPrefix, StringComparison.Ordinal))
            {
                var props = new Dictionary<string, long>(StringComparer.Ordinal);
                foreach (var property in slot.GetProperty("props").EnumerateObject())
                {
                    props[property.Name] = property.Value.GetInt64();
                }
                cpus.Add(new QemuHotplugCpu(slot.GetProperty("type").GetString() ?? "", qom[PeripheralPrefix.Length..], props));
            }
        }
        var dimms = new List<QemuHotplugDimm>();
        foreach (var device in (await Qmp.ExecuteAsync("query-memory-devices", cancellationToken: cancellationToken).ConfigureAwait(false)).EnumerateArray())
        {
            if (device.GetProperty("type").GetString() != "dimm")
            {
                continue;
            }
            var data = device.GetProperty("data");
            string memdev = data.GetProperty("memdev").GetString() ?? "";
            dimms.Add(new QemuHotplugDimm(
                data.TryGetProperty("id", out var id) ? id.GetString() ?? "" : "",
                memdev.StartsWith("/objects/", StringComparison.Ordinal) ? memdev["/objects/".Length..] : memdev,
                data.GetProperty("size").GetInt64(), data.GetProperty("addr").GetInt64(), data.GetProperty("slot").GetInt32()));
        }
        var disks = new List<QemuHotplugDisk>();
        foreach (var block in (await Qmp.ExecuteAsync("query-block", cancellationToken: cancellationToken).ConfigureAwait(false)).EnumerateArray())
        {
            if (block.TryGetProperty("inserted", out var inserted) && block.TryGetProperty("qdev", out var qdev)
                && qdev.GetString() is { } path && path.Split('/') is [_, "machine", "peripheral", var device, ..]
                && device.StartsWith("disk", StringComparison.Ordinal)
                && int.TryParse(device.AsSpan(4), NumberStyles.None, CultureInfo.InvariantCulture, out int port)
                && port >= _options.Disks.Count)
            {
                disks.Add(new QemuHotplugDisk(port, inserted.GetProperty("file").GetString() ?? "", inserted.GetProperty("ro").GetBoolean(),
                    inserted.TryGetProperty("drv", out var drv) ? drv.GetString() ?? "raw" : "raw"));
            }
        }
        return new QemuHotplugState { Cpus = cpus, Dimms = dimms, Disks = [.. disks.OrderBy(d => d.Port)] };
    }

    /// <summary>Pauses the guest (QMP <c>stop</c>): its vCPUs no longer run; devices and qemu stay.</summary>
    internal Task PauseAsync(CancellationToken cancellationToken) => Qmp.ExecuteAsync("stop", cancellationToken: cancellationToken);

    /// <summary>Runs the guest again (QMP <c>cont</c>), also after a completed outgoing migration.</summary>
    internal Task ResumeAsync(CancellationToken cancellationToken) => Qmp.ExecuteAsync("cont", cancellationToken: cancellationToken);

    /// <summary>
    /// Migrates the paused VM's state (memory and devices) into <paramref name="output"/>: qemu connects to a socket
    /// this process listens on (<c>migrate unix:</c>), and what it sends is copied as it comes; <c>query-migrate</c> is
    /// polled for progress and the outcome. Returns the bytes qemu sent. The VM stays paused (in qemu's
    /// <c>postmigrate</c> state, which <see cref="ResumeAsync"/> leaves).
    /// </summary>
    /// <exception cref="Checkpoints.CheckpointException">qemu failed the migration (its reason in the message).</exception>
    internal async Task<long> MigrateToAsync(Stream output, IProgress<(long Bytes, long? Total)>? progress, CancellationToken cancellationToken)
    {
        // qemu's default bandwidth cap (32 MiB/s) is for live migration over a network; into a local socket of a
        // paused VM it only stretches the downtime.
        await Qmp.ExecuteAsync("migrate-set-parameters", new JsonObject { ["max-bandwidth"] = long.MaxValue / 2 }, cancellationToken).ConfigureAwait(false);
        File.Delete(MigrationSocketPath);
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(MigrationSocketPath));
        listener.Listen(1);
        try
        {
            await Qmp.ExecuteAsync("migrate", new JsonObject { ["uri"] = "unix:" + MigrationSocketPath }, cancellationToken).ConfigureAwait(false);
            var accept = listener.AcceptAsync(cancellationToken).AsTask();
            var status = MigrationOutcomeAsync(null, cancellationToken);
            if (await Task.WhenAny(accept, status).ConfigureAwait(false) == status)
            {
                await status.ConfigureAwait(false);
                throw new Checkpoints.CheckpointException("qemu ended the migration before it connected");
            }
            long copied = 0;
            using (var connection = await accept.ConfigureAwait(false))
            await using (var stream = new NetworkStream(connection, ownsSocket: false))
            {
                var buffer = new byte[1024 * 1024];
                int n;
                while ((n = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    await output.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                    copied += n;
                    progress?.Report((copied, null));
                }
            }
            await status.ConfigureAwait(false);
            return copied;
        }
        finally
        {
            File.Delete(MigrationSocketPath);
        }
    }

    /// <summary>Polls <c>query-migrate</c> until the migration completed; throws with qemu's reason when it failed or was cancelled.</summary>
    private async Task MigrationOutcomeAsync(Func<JsonElement, bool>? done, CancellationToken cancellationToken)
    {
        while (true)
        {
            var info = await Qmp.ExecuteAsync("query-migrate", cancellationToken: cancellationToken).ConfigureAwait(false);
            string status = info.TryGetProperty("status", out var s) ? s.GetString() ?? "" : "";
            switch (status)
            {
                case "completed":
                    return;
                case "failed" or "cancelled":
                    string reason = info.TryGetProperty("error-desc", out var e) ? e.GetString() ?? "" : "no reason given";
                    throw new Checkpoints.CheckpointException($"qemu's migration {status}: {reason}");
            }
            if (done is not null && done(info))
            {
                return;
            }
            await Task.Delay(MigrationPoll, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Starts qemu with <paramref name="options"/> (the checkpointed command line, with its state directory, disks and
    /// NICs of the restore) plus the devices of <paramref name="hotplug"/>, waiting for its state (<c>-incoming
    /// defer</c>); loads <paramref name="state"/> through a socket qemu listens on (<c>migrate-incoming unix:</c>); runs
    /// the guest (<c>cont</c>) and reconnects its agent. A failure leaves nothing running.
    /// </summary>
    /// <exception cref="Checkpoints.CheckpointException">qemu refused the state, or the agent did not answer again.</exception>
    internal static async Task<QemuVm> RestoreAsync(QemuOptions options, QemuHotplugState hotplug, Stream state, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        options = Validate(options);
        Directory.CreateDirectory(options.StateDirectory);
        var vm = new QemuVm(options) { DiskPciPaths = [.. Enumerable.Range(0, options.Disks.Count).Select(PciPath)], _incoming = hotplug };
        using var abort = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var clock = Stopwatch.StartNew();
        try
        {
            await vm.StartVsockAsync(abort.Token).ConfigureAwait(false);
            await vm.LaunchAsync(abort.Token).ConfigureAwait(false);
            vm.Qmp = await vm.UntilExitAsync(QmpClient.ConnectAsync(vm.QmpSocketPath, TimeSpan.FromSeconds(30), abort.Token), "its QMP socket accepted").ConfigureAwait(false);
            await vm.SaveStateAsync(abort.Token).ConfigureAwait(false);
            await vm.UntilExitAsync(vm.LoadStateAsync(state, progress, abort.Token), "it loaded the checkpoint").ConfigureAwait(false);
            await vm.ResumeAsync(abort.Token).ConfigureAwait(false);
            var connect = AgentClient.ConnectAsync(vm.AgentAddress, AgentOptions(options), abort.Token);
            vm.Agent = await vm.UntilExitAsync(connect, "the agent answered").ConfigureAwait(false);
            vm.BootToReady = clock.Elapsed;
            return vm;
        }
        catch (Exception e) when (e is not OperationCanceledException and not Checkpoints.CheckpointException)
        {
            abort.Cancel();
            string tail = vm.ConsoleTail();
            await vm.AbandonAsync().ConfigureAwait(false);
            throw new Checkpoints.CheckpointException($"the restored VM did not come back: {e.Message}\n{tail}", e);
        }
        catch
        {
            abort.Cancel();
            await vm.AbandonAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task<bool> LoadStateAsync(Stream state, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        File.Delete(MigrationSocketPath);
        await Qmp.ExecuteAsync("migrate-incoming", new JsonObject { ["uri"] = "unix:" + MigrationSocketPath }, cancellationToken).ConfigureAwait(false);
        using (var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(MigrationSocketPath), cancellationToken).ConfigureAwait(false);
            await using var stream = new NetworkStream(socket, ownsSocket: false);
            var buffer = new byte[1024 * 1024];
            long copied = 0;
            int n;
            try
            {
                while ((n = await state.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    await stream.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                    copied += n;
                    progress?.Report(copied);
                }
            }
            catch (IOException e) when (e.InnerException is SocketException)
            {
                // qemu closed its end: it refused the state; query-migrate says why.
            }
            socket.Shutdown(SocketShutdown.Send);
        }
        // The incoming side reports completed once the state is loaded; the guest is then paused, as it was saved.
        await MigrationOutcomeAsync(null, cancellationToken).ConfigureAwait(false);
        File.Delete(MigrationSocketPath);
        return true;
    }

    /// <summary>The restore's additions to the command line: the hot-plugged devices, cold-plugged now in their places, and <c>-incoming defer</c>.</summary>
    private List<string> IncomingArguments()
    {
        var arguments = new List<string>();
        if (_incoming is not { } hotplug)
        {
            return arguments;
        }
        foreach (var cpu in hotplug.Cpus)
        {
            string props = string.Concat(cpu.Properties.Select(p => string.Create(CultureInfo.InvariantCulture, $",{p.Key}={p.Value}")));
            arguments.AddRange(["-device", $"{cpu.Driver},id={cpu.Id}{props}"]);
        }
        foreach (var dimm in hotplug.Dimms)
        {
            arguments.AddRange(["-object", string.Create(CultureInfo.InvariantCulture, $"memory-backend-memfd,id={dimm.Backend},size={dimm.SizeBytes},share=on")]);
            arguments.AddRange(["-device", string.Create(CultureInfo.InvariantCulture, $"pc-dimm,id={dimm.Id},memdev={dimm.Backend},addr={dimm.Address},slot={dimm.Slot}")]);
        }
        foreach (var disk in hotplug.Disks)
        {
            arguments.AddRange(["-blockdev", BlockdevArguments(new QemuDisk(disk.ImagePath, disk.ReadOnly, disk.Format), DiskId(disk.Port)).ToJsonString()]);
            arguments.AddRange(["-device", $"virtio-blk-pci,drive={DiskId(disk.Port)},id={DiskId(disk.Port)},bus={RootPortId(disk.Port)}"]);
        }
        arguments.AddRange(["-incoming", "defer"]);
        return arguments;
    }
}
