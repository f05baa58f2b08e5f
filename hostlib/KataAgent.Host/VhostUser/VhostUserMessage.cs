using System.Buffers.Binary;
using KataAgent.Linux.Interop;

namespace KataAgent.Host.VhostUser;

/// <summary>
/// A request as it arrived: header, payload and the fds that rode on it. The message owns the fds until a handler
/// takes one (<see cref="TakeFd"/>); disposing closes the rest, so a rejected or unknown request leaks none.
/// The payload readers check the size the request must have and throw <see cref="VhostUserProtocolException"/>
/// otherwise: a message of the wrong size is no vhost-user, and its connection is closed.
/// </summary>
internal sealed class VhostUserMessage : IDisposable
{
    /// <summary>The most fds one message carries (VHOST_MEMORY_BASELINE_NREGIONS).</summary>
    public const int MaxFds = 8;

    /// <summary>
    /// The largest payload accepted: above what any request here needs (a full memory table is 264 bytes, a config
    /// message 268), far below what would let a front-end make the server allocate without bound.
    /// </summary>
    public const int MaxPayload = 4096;

    private readonly SafeFileDescriptor?[] _fds;

    public VhostUserMessage(VhostUserHeader header, byte[] payload, SafeFileDescriptor?[] fds)
    {
        Header = header;
        Payload = payload;
        _fds = fds;
    }

    public VhostUserHeader Header { get; }

    public VhostUserRequest Request => Header.Request;

    public byte[] Payload { get; }

    /// <summary>How many fds came with the message.</summary>
    public int FdCount => _fds.Length;

    /// <summary>Hands fd <paramref name="index"/> to the caller, who owns it from now on.</summary>
    public SafeFileDescriptor TakeFd(int index)
    {
        var fd = _fds[index] ?? throw new InvalidOperationException($"fd {index} of {Request} was already taken");
        _fds[index] = null;
        return fd;
    }

    /// <summary>Checks the request has no payload.</summary>
    public void ExpectEmpty() => ExpectSize(0);

    /// <summary>The payload of a request that carries one u64 (features, a vring fd index).</summary>
    public ulong ReadU64()
    {
        ExpectSize(sizeof(ulong));
        return BinaryPrimitives.ReadUInt64LittleEndian(Payload);
    }

    public VringState ReadVringState()
    {
        ExpectSize(VringState.Length);
        return VringState.Read(Payload);
    }

    public VringAddress ReadVringAddress()
    {
        ExpectSize(VringAddress.Length);
        return VringAddress.Read(Payload);
    }

    /// <summary>SET_MEM_TABLE: <c>u32 nregions, u32 padding</c>, then nregions regions (at most <see cref="MaxFds"/>).</summary>
    public MemoryRegionDescription[] ReadMemoryTable()
    {
        if (Payload.Length < 8)
        {
            throw Malformed($"{Payload.Length} bytes, less than the 8 of the region count");
        }
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(Payload);
        if (count > MaxFds)
        {
            throw Malformed($"{count} regions, more than {MaxFds}");
        }
        ExpectSize(8 + ((int)count * MemoryRegionDescription.Length));
        var regions = new MemoryRegionDescription[count];
        for (int i = 0; i < regions.Length; i++)
        {
            regions[i] = MemoryRegionDescription.Read(Payload.AsSpan(8 + (i * MemoryRegionDescription.Length)));
        }
        return regions;
    }

    /// <summary>GET_CONFIG / SET_CONFIG: the fixed part, whose size must match the payload that follows it.</summary>
    public ConfigRequest ReadConfigRequest()
    {
        if (Payload.Length < ConfigRequest.HeaderLength)
        {
            throw Malformed($"{Payload.Length} bytes, less than the {ConfigRequest.HeaderLength} of the config header");
        }
        var request = ConfigRequest.Read(Payload);
        if (request.Size > ConfigRequest.MaxSize)
        {
            throw Malformed($"config size {request.Size}, more than {ConfigRequest.MaxSize}");
        }
        ExpectSize(ConfigRequest.HeaderLength + (int)request.Size);
        return request;
    }

    /// <summary>Closes every fd no handler took.</summary>
    public void Dispose()
    {
        for (int i = 0; i < _fds.Length; i++)
        {
            _fds[i]?.Dispose();
            _fds[i] = null;
        }
    }

    private void ExpectSize(int size)
    {
        if (Payload.Length != size)
        {
            throw Malformed($"a payload of {Payload.Length} bytes where {size} belong");
        }
    }

    private VhostUserProtocolException Malformed(string what) => new($"{Request.Name()} ({(uint)Request}) with {what}");
}
