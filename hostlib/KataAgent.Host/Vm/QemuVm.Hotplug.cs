using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace KataAgent.Host.Vm;

public sealed partial class QemuVm
{
    /// <summary>
    /// Hot-plugs one vCPU into the first empty CPU slot qemu lists (<c>query-hotpluggable-cpus</c>, then
    /// <c>device_add</c> of that CPU type with its socket, core and thread ids) and returns how many vCPUs the
    /// VM has now. The guest sees it as a new, offline CPU; the agent's OnlineCPUMem brings it online.
    /// Needs room: <see cref="QemuOptions.MaxCpus"/> above <see cref="QemuOptions.Cpus"/>.
    /// </summary>
    /// <exception cref="VmException">Every CPU slot is taken.</exception>
    /// <exception cref="QmpException">qemu refused the CPU.</exception>
    public async Task<int> AddCpuAsync(CancellationToken cancellationToken = default)
    {
        await _hotplugLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var slots = await Qmp.ExecuteAsync("query-hotpluggable-cpus", cancellationToken: cancellationToken).ConfigureAwait(false);
            JsonElement? free = null;
            int plugged = 0;
            foreach (var slot in slots.EnumerateArray())
            {
                if (slot.TryGetProperty("qom-path", out _))
                {
                    plugged++;
                }
                else
                {
                    free ??= slot;
                }
            }
            if (free is not { } chosen)
            {
                throw new VmException($"every CPU slot of the VM is taken ({plugged}); start it with a larger MaxCpus");
            }
            var arguments = new JsonObject
            {
                ["driver"] = chosen.GetProperty("type").GetString(),
                // After a removal the count no longer names a free id: the first one no plugged CPU has.
                ["id"] = FreeId(PluggedDeviceIds(slots), CpuId, 1),
            };
            foreach (var property in chosen.GetProperty("props").EnumerateObject())
            {
                arguments[property.Name] = JsonNode.Parse(property.Value.GetRawText());
            }
            await Qmp.ExecuteAsync("device_add", arguments, cancellationToken).ConfigureAwait(false);
            return plugged + 1;
        }
        finally
        {
            _hotplugLock.Release();
        }
    }

    /// <summary>
    /// Hot-plugs <paramref name="sizeMiB"/> of RAM as a pc-dimm (<c>object-add memory-backend-memfd</c>, shared, then
    /// <c>device_add pc-dimm</c>) and returns the DIMM's id. The guest gets it through ACPI as new memory
    /// blocks, offline unless its kernel onlines them itself; the agent's OnlineCPUMem onlines them. Needs room:
    /// <see cref="QemuOptions.MaxMemoryMiB"/> and a free one of <see cref="QemuOptions.MemorySlots"/>; the size
    /// must be a multiple of the guest's memory block size (128 MiB on x86_64).
    /// </summary>
    /// <exception cref="QmpException">qemu refused the memory (no slot or room left, a size it cannot map).</exception>
    public async Task<string> AddMemoryAsync(int sizeMiB, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sizeMiB);
        await _hotplugLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var devices = await Qmp.ExecuteAsync("query-memory-devices", cancellationToken: cancellationToken).ConfigureAwait(false);
            // After a removal the count no longer names a free pair: the first index neither a DIMM nor a backend has.
            var taken = Dimms(devices).SelectMany(d => new[] { d.Id, d.Backend }).ToHashSet(StringComparer.Ordinal);
            int index = 0;
            while (taken.Contains(DimmId(index)) || taken.Contains(DimmBackendId(index)))
            {
                index++;
            }
            string backend = DimmBackendId(index);
            string dimm = DimmId(index);
            await Qmp.ExecuteAsync("object-add", new JsonObject
            {
                // Shared and fd-backed like the boot RAM: vhost-user backends must map every RAM block the guest
                // may hand them buffers in, and qemu sends them the new block's fd.
                ["qom-type"] = "memory-backend-memfd",
                ["id"] = backend,
                ["size"] = (long)sizeMiB * 1024 * 1024,
                ["share"] = true,
            }, cancellationToken).ConfigureAwait(false);
            try
            {
                await Qmp.ExecuteAsync("device_add", new JsonObject { ["driver"] = "pc-dimm", ["id"] = dimm, ["memdev"] = backend }, cancellationToken).ConfigureAwait(false);
            }
            catch (QmpException)
            {
                await Qmp.ExecuteAsync("object-del", new JsonObject { ["id"] = backend }, CancellationToken.None).ConfigureAwait(false);
                throw;
            }
            return dimm;
        }
        finally
        {
            _hotplugLock.Release();
        }
    }

    /// <summary>
    /// The VM's vCPUs and memory now, and the room <see cref="QemuOptions.MaxCpus"/> and
    /// <see cref="QemuOptions.MaxMemoryMiB"/> leave, from qemu itself (<c>query-hotpluggable-cpus</c>,
    /// <c>query-memory-size-summary</c>, <c>query-memory-devices</c>), so it holds for an attached VM as well.
    /// </summary>
    internal async Task<QemuVmSize> QuerySizeAsync(CancellationToken cancellationToken)
    {
        var slots = await Qmp.ExecuteAsync("query-hotpluggable-cpus", cancellationToken: cancellationToken).ConfigureAwait(false);
        int cpus = 0;
        int maxCpus = 0;
        foreach (var slot in slots.EnumerateArray())
        {
            maxCpus++;
            if (slot.TryGetProperty("qom-path", out _))
            {
                cpus++;
            }
        }
        var summary = await Qmp.ExecuteAsync("query-memory-size-summary", cancellationToken: cancellationToken).ConfigureAwait(false);
        long bytes = summary.GetProperty("base-memory").GetInt64();
        if (summary.TryGetProperty("plugged-memory", out var plugged))
        {
            bytes += plugged.GetInt64();
        }
        var devices = await Qmp.ExecuteAsync("query-memory-devices", cancellationToken: cancellationToken).ConfigureAwait(false);
        int memoryMiB = (int)(bytes / (1024 * 1024));
        bool memoryRoom = _options.MaxMemoryMiB > _options.MemoryMiB;
        return new QemuVmSize(cpus, maxCpus, memoryMiB,
            memoryRoom ? _options.MaxMemoryMiB : memoryMiB,
            devices.GetArrayLength(),
            memoryRoom ? Math.Max(1, _options.MemorySlots) : 0)
        {
            BootCpus = _options.Cpus,
            BootMemoryMiB = (int)(summary.GetProperty("base-memory").GetInt64() / (1024 * 1024)),
        };
    }

    Task<QemuVmSize> IVirtualMachine.QuerySizeAsync(CancellationToken cancellationToken) => QuerySizeAsync(cancellationToken);

    internal static string CpuId(int index) => $"cpu{index.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>
    /// Whether <see cref="RemoveCpuAsync"/> can take vCPUs out: only under KVM. qemu 7.2 under TCG loses track of an
    /// unplugged vCPU and crashes when the slot is plugged again (docs/PODS.md "Resizing").
    /// </summary>
    public bool CanUnplugCpus => UsesKvm;

    internal static string DimmId(int index) => $"dimm{index.ToString(CultureInfo.InvariantCulture)}";

    internal static string DimmBackendId(int index) => $"mem{index.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>
    /// Hot-unplugs the vCPU plugged last (the hot-plugged one in the highest slot; boot vCPUs never go): QMP
    /// <c>device_del</c>, then waits for qemu's <c>DEVICE_DELETED</c>, which comes once the guest has ejected it
    /// through ACPI (Linux offlines a CPU it is asked to eject, but the agent should have offlined it first, as
    /// UpdatePod does, so that nothing is running there). Returns how many vCPUs the VM has now.
    /// </summary>
    /// <exception cref="VmException">The VM runs under TCG (<see cref="CanUnplugCpus"/>), no hot-plugged vCPU is left
    /// (only the boot ones), or the guest did not let go within <see cref="QemuOptions.UnplugTimeout"/>.</exception>
    /// <exception cref="QmpException">qemu refused the unplug.</exception>
    public async Task<int> RemoveCpuAsync(CancellationToken cancellationToken = default)
    {
        if (!CanUnplugCpus)
        {
            // Seen here with qemu 7.2: multi-threaded TCG lets the guest eject the vCPU but never deletes the device
            // (only its lapic), and a later device_add into the slot corrupts qemu's heap and kills the VM;
            // single-threaded TCG aborts on the eject itself (qemu_thread_join on its own thread).
            throw new VmException("vCPU hot-unplug needs KVM: qemu 7.2 under TCG cannot take a vCPU out without breaking the VM "
                + "(a later hot-plug into the slot crashes it); offline the vCPU in the guest instead (UpdatePod, OnlineCPUMem) and it costs the host no CPU time");
        }
        await _hotplugLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var slots = await Qmp.ExecuteAsync("query-hotpluggable-cpus", cancellationToken: cancellationToken).ConfigureAwait(false);
            int plugged = 0;
            string? last = null;
            long lastSlot = -1;
            foreach (var slot in slots.EnumerateArray())
            {
                if (!slot.TryGetProperty("qom-path", out var path))
                {
                    continue;
                }
                plugged++;
                // Boot vCPUs live under /machine/unattached; device_add'ed ones under /machine/peripheral/ID.
                if (path.GetString() is { } qom && qom.StartsWith(PeripheralPrefix, StringComparison.Ordinal) && SlotOrder(slot) > lastSlot)
                {
                    lastSlot = SlotOrder(slot);
                    last = qom[PeripheralPrefix.Length..];
                }
            }
            if (last is null)
            {
                throw new VmException($"no hot-plugged vCPU to remove: the VM has only its {plugged} boot vCPUs");
            }
            await UnplugRefusableAsync(last, $"vCPU '{last}'", "the vCPU stays plugged; a later resize retries", cancellationToken).ConfigureAwait(false);
            return plugged - 1;
        }
        finally
        {
            _hotplugLock.Release();
        }
    }

    /// <summary>
    /// The DIMMs plugged now (<c>query-memory-devices</c>), in the order they were plugged (by guest address): their
    /// ids and sizes, so that a shrink knows what whole DIMMs it can take out.
    /// </summary>
    public async Task<IReadOnlyList<QemuDimm>> QueryDimmsAsync(CancellationToken cancellationToken = default)
    {
        var devices = await Qmp.ExecuteAsync("query-memory-devices", cancellationToken: cancellationToken).ConfigureAwait(false);
        return Dimms(devices);
    }

    /// <summary>
    /// Hot-unplugs the DIMM <paramref name="dimmId"/> (one <see cref="AddMemoryAsync"/> returned): QMP <c>device_del</c>,
    /// then waits for <c>DEVICE_DELETED</c>, then deletes its memory backend, which returns its pages to the host. The
    /// guest must give the memory up first: Linux offlines the DIMM's memory blocks when asked to eject it, which only
    /// succeeds when they were onlined movable (the agent onlines hot-plugged memory <c>online_movable</c>) and their
    /// pages can be migrated elsewhere. When the guest cannot, it refuses the eject (qemu's <c>ACPI_DEVICE_OST</c>
    /// with a failure status) and the DIMM stays; this then fails at once rather than waiting out the timeout.
    /// </summary>
    /// <exception cref="VmException">No such DIMM, the guest refused to give the memory up, or it did not answer within
    /// <see cref="QemuOptions.UnplugTimeout"/>.</exception>
    public async Task RemoveMemoryAsync(string dimmId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(dimmId);
        await _hotplugLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var dimm = Dimms(await Qmp.ExecuteAsync("query-memory-devices", cancellationToken: cancellationToken).ConfigureAwait(false))
                .FirstOrDefault(d => d.Id == dimmId) ?? throw new VmException($"no DIMM '{dimmId}' is plugged");
            await UnplugRefusableAsync(dimmId, $"DIMM '{dimmId}' ({dimm.SizeMiB} MiB)", "its memory could not be offlined (pages in use that cannot move, "
                + "or memory not onlined movable); the DIMM stays plugged", cancellationToken).ConfigureAwait(false);
            await Qmp.ExecuteAsync("object-del", new JsonObject { ["id"] = dimm.Backend }, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _hotplugLock.Release();
        }
    }

    /// <summary>
    /// <see cref="UnplugDeviceAsync"/> for a device the guest ejects through ACPI (a vCPU, a DIMM), which it may refuse:
    /// it answers an eject it cannot do with _OST, which qemu reports as <c>ACPI_DEVICE_OST</c> with a non-zero status,
    /// and that fails the unplug at once instead of after <see cref="QemuOptions.UnplugTimeout"/>. Called under the hot-plug lock.
    /// </summary>
    private async Task UnplugRefusableAsync(string id, string what, string afterwards, CancellationToken cancellationToken)
    {
        var requested = DateTimeOffset.UtcNow.AddMilliseconds(-10);
        using var refused = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var refusal = Qmp.WaitForEventAsync("ACPI_DEVICE_OST", e => e.Timestamp >= requested && IsFailedOst(e.Data, id), refused.Token);
        var unplug = UnplugDeviceAsync(id, what, afterwards, cancellationToken);
        if (await Task.WhenAny(unplug, refusal).ConfigureAwait(false) == refusal && refusal.IsCompletedSuccessfully)
        {
            _ = unplug.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            var info = refusal.Result.Data.GetProperty("info");
            throw new VmException($"the guest refused to give up {what} (ACPI _OST status 0x{info.GetProperty("status").GetInt32():x}, "
                + $"event 0x{info.GetProperty("source").GetInt32():x}): {afterwards}");
        }
        refused.Cancel();
        _ = refusal.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.NotOnRanToCompletion, TaskScheduler.Default);
        await unplug.ConfigureAwait(false);
    }

    private const string PeripheralPrefix = "/machine/peripheral/";

    /// <summary>A CPU slot's place: socket, then core, then thread.</summary>
    private static long SlotOrder(JsonElement slot)
    {
        var props = slot.GetProperty("props");
        long Prop(string name) => props.TryGetProperty(name, out var value) ? value.GetInt64() : 0;
        return (Prop("socket-id") * 1024 + Prop("core-id")) * 1024 + Prop("thread-id");
    }

    /// <summary>The ids of the device_add'ed CPUs in <c>query-hotpluggable-cpus</c>' answer.</summary>
    private static HashSet<string> PluggedDeviceIds(JsonElement slots)
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var slot in slots.EnumerateArray())
        {
            if (slot.TryGetProperty("qom-path", out var path) && path.GetString() is { } qom && qom.StartsWith(PeripheralPrefix, StringComparison.Ordinal))
            {
                ids.Add(qom[PeripheralPrefix.Length..]);
            }
        }
        return ids;
    }

    private static string FreeId(HashSet<string> taken, Func<int, string> name, int first)
    {
        int index = first;
        while (taken.Contains(name(index)))
        {
            index++;
        }
        return name(index);
    }

    private static List<QemuDimm> Dimms(JsonElement devices)
    {
        var dimms = new List<(long Address, QemuDimm Dimm)>();
        foreach (var device in devices.EnumerateArray())
        {
            if (device.GetProperty("type").GetString() != "dimm")
            {
                continue;
            }
            var data = device.GetProperty("data");
            string memdev = data.GetProperty("memdev").GetString() ?? "";
            dimms.Add((data.GetProperty("addr").GetInt64(), new QemuDimm(
                data.TryGetProperty("id", out var id) ? id.GetString() ?? "" : "",
                memdev.StartsWith("/objects/", StringComparison.Ordinal) ? memdev["/objects/".Length..] : memdev,
                (int)(data.GetProperty("size").GetInt64() / (1024 * 1024)))));
        }
        return [.. dimms.OrderBy(d => d.Address).Select(d => d.Dimm)];
    }

    /// <summary>
    /// An _OST for <paramref name="id"/>'s eject that says the guest will not do it: status 0x80 (not supported), 0x81
    /// (in use), 0x82 (busy), 0x83 (a dependency busy), or 1..3 (failure). 0 is success and 0x84 "eject in progress",
    /// which Linux sends as it starts.
    /// </summary>
    private static bool IsFailedOst(JsonElement data, string id) =>
        data.TryGetProperty("info", out var info)
        && info.TryGetProperty("device", out var device) && device.GetString() == id
        && info.TryGetProperty("status", out var status) && status.GetInt32() is (>= 1 and <= 3) or (>= 0x80 and <= 0x83);
}
