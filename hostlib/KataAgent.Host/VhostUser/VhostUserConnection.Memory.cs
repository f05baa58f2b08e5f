using KataAgent.Linux.Interop;

namespace KataAgent.Host.VhostUser;

/// <summary>SET_MEM_TABLE: guest memory replaced whole, while the device is paused.</summary>
internal sealed partial class VhostUserConnection
{
    private GuestMemory? _memory;

    private bool SetMemTable(VhostUserMessage message)
    {
        var regions = message.ReadMemoryTable();
        if (message.FdCount != regions.Length)
        {
            Log($"SET_MEM_TABLE with {regions.Length} regions came with {message.FdCount} fds: refused");
            return false;
        }
        var fds = new SafeFileDescriptor[regions.Length];
        for (int i = 0; i < fds.Length; i++)
        {
            fds[i] = message.TakeFd(i);
        }
        GuestMemory memory;
        try
        {
            memory = GuestMemory.Map(regions, fds);
        }
        catch (Exception e) when (e is ArgumentException or LinuxException)
        {
            Log($"SET_MEM_TABLE refused, the old table stays: {e.Message}");
            return false;
        }
        finally
        {
            // The mappings keep the memory alive; the fds are not needed any more.
            foreach (var fd in fds)
            {
                fd.Dispose();
            }
        }
        Log($"memory table: {string.Join(", ", regions.Select(r => $"gpa 0x{r.GuestPhysicalAddress:x} size 0x{r.Size:x}"))}");
        ReplaceMemory(memory);
        TryStartDevice();
        return true;
    }

    /// <summary>
    /// Installs <paramref name="memory"/> (null: none) with the device paused if it runs: running queues move to the new
    /// mappings (a ring that is no longer mapped breaks), then the old mappings go.
    /// </summary>
    private void ReplaceMemory(GuestMemory? memory)
    {
        string? broken = null;
        // A stopped device holds no queue, so only a running one needs keeping off the memory meanwhile.
        using (_started ? _device.Pause() : null)
        {
            var old = _memory;
            _memory = memory;
            if (memory is not null)
            {
                foreach (var vring in _vrings)
                {
                    if (vring.Queue is { } queue && queue.Remap(memory, vring.Address!.Value) is { } error)
                    {
                        broken ??= $"ring {vring.Index}: {error}";
                    }
                }
            }
            old?.Dispose();
        }
        if (broken is not null)
        {
            BreakDevice($"after SET_MEM_TABLE: {broken}");
        }
    }
}
