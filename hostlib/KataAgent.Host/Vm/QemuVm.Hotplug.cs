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
                ["id"] = CpuId(plugged),
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
            int index = devices.GetArrayLength();
            string backend = $"mem{index.ToString(CultureInfo.InvariantCulture)}";
            string dimm = $"dimm{index.ToString(CultureInfo.InvariantCulture)}";
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
            memoryRoom ? Math.Max(1, _options.MemorySlots) : 0);
    }

    Task<QemuVmSize> IVirtualMachine.QuerySizeAsync(CancellationToken cancellationToken) => QuerySizeAsync(cancellationToken);

    internal static string CpuId(int index) => $"cpu{index.ToString(CultureInfo.InvariantCulture)}";
}
