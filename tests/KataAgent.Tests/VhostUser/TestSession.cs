using FluentAssertions;
using KataAgent.Host.VhostUser;

namespace KataAgent.Tests.VhostUser;

/// <summary>
/// One server with an <see cref="EchoDevice"/>, and the test as qemu and guest driver: the message sequences of
/// qemu 7.2 (reference §2.2) as methods, the rings in a <see cref="TestGuest"/>, the kick/call/err eventfds.
/// </summary>
internal sealed class TestSession : IAsyncDisposable
{
    public const ushort QueueSize = 16;

    /// <summary>What qemu 7.2's guest acknowledged with EVENT_IDX (§2.2), plus the device's own bit.</summary>
    public const ulong DriverFeatures = VhostUserFeatures.Version1 | VhostUserFeatures.ProtocolFeatures | VhostUserFeatures.EventIndex | EchoDevice.FeatureStream;

    private readonly TempDirectory _directory = new();
    private readonly StringWriter _log = new();
    private readonly List<TestEventFd> _retired = [];

    public TestSession(bool deviceThread = false)
    {
        Device = new EchoDevice(deviceThread);
        SocketPath = _directory.File("vsock.sock");
        Server = VhostUserServer.Listen(SocketPath, Device, _log);
        Rings = [new TestRing(Guest, 0, QueueSize, 0x1000), new TestRing(Guest, 1, QueueSize, 0x2000)];
        Kicks = [new TestEventFd(), new TestEventFd()];
        Calls = [new TestEventFd(), new TestEventFd()];
        Errs = [new TestEventFd(), new TestEventFd()];
    }

    public string SocketPath { get; }

    public EchoDevice Device { get; }

    public VhostUserServer Server { get; }

    public TestGuest Guest { get; private set; } = new();

    public TestRing[] Rings { get; }

    public TestEventFd[] Kicks { get; }

    public TestEventFd[] Calls { get; private set; }

    public TestEventFd[] Errs { get; }

    public FakeFrontEnd? Qemu { get; private set; }

    /// <summary>What the server logged so far.</summary>
    public string Log => _log.ToString();

    public FakeFrontEnd Connect()
    {
        Qemu?.Dispose();
        Qemu = FakeFrontEnd.Connect(SocketPath);
        return Qemu;
    }

    /// <summary>qemu's realize sequence (§2.2 first row), checking every answer.</summary>
    public void Realize()
    {
        var qemu = Qemu ?? Connect();
        qemu.GetU64(VhostUserRequest.GetFeatures).Should().Be(VhostUserFeatures.Version1 | VhostUserFeatures.ProtocolFeatures | VhostUserFeatures.EventIndex | EchoDevice.FeatureStream);
        qemu.GetU64(VhostUserRequest.GetProtocolFeatures).Should().Be(0x209UL);
        qemu.SetU64(VhostUserRequest.SetProtocolFeatures, 0x209);
        qemu.GetU64(VhostUserRequest.GetQueueNum).Should().Be(2UL);
        qemu.Send(VhostUserRequest.SetOwner, []);
        qemu.GetU64(VhostUserRequest.GetFeatures);
        for (uint i = 0; i < 2; i++)
        {
            qemu.SetVringFd(VhostUserRequest.SetVringCall, i, Calls[i].Fd);
            qemu.SetVringFd(VhostUserRequest.SetVringErr, i, Errs[i].Fd);
        }
        qemu.GetConfig(0, 8).Should().Equal([0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]);
    }

    /// <summary>The guest driver sets DRIVER_OK (§2.2 second row): the device starts.</summary>
    public void StartDriver(ulong features = DriverFeatures, ushort[]? bases = null)
    {
        var qemu = Qemu!;
        qemu.SetVringFd(VhostUserRequest.SetVringCall, 1, Calls[1].Fd);
        qemu.SetVringFd(VhostUserRequest.SetVringCall, 0, Calls[0].Fd);
        qemu.SetU64(VhostUserRequest.SetFeatures, features);
        qemu.SetMemTable(Guest.Table()).Should().Be(0UL, "REPLY_ACK of SET_MEM_TABLE: success");
        for (int i = 0; i < 2; i++)
        {
            qemu.SetState(VhostUserRequest.SetVringNum, (uint)i, QueueSize);
            qemu.SetState(VhostUserRequest.SetVringBase, (uint)i, bases?[i] ?? 0);
            qemu.SetVringAddress(Rings[i].Address);
            qemu.SetVringFd(VhostUserRequest.SetVringKick, (uint)i, Kicks[i].Fd);
        }
        Device.Running.Should().BeFalse("the rings start disabled with PROTOCOL_FEATURES");
        qemu.SetState(VhostUserRequest.SetVringEnable, 0, 1);
        qemu.SetState(VhostUserRequest.SetVringEnable, 1, 1);
        // New call fds once the rings run, as qemu sends them when it unmasks the guest notifiers.
        _retired.AddRange(Calls);
        Calls = [new TestEventFd(), new TestEventFd()];
        qemu.SetVringFd(VhostUserRequest.SetVringCall, 0, Calls[0].Fd);
        qemu.SetVringFd(VhostUserRequest.SetVringCall, 1, Calls[1].Fd);
        Device.WaitForEvent("start");
        Calls[0].Wait(FakeFrontEnd.ReplyTimeout).Should().BeGreaterThan(0UL, "a new call fd while running is signalled once");
        Calls[1].Wait(FakeFrontEnd.ReplyTimeout).Should().BeGreaterThan(0UL);
    }

    /// <summary>Guest poweroff / device reset (§2.2 last row); returns where each ring stopped.</summary>
    public VringState[] ResetDriver()
    {
        var qemu = Qemu!;
        qemu.SetState(VhostUserRequest.SetVringEnable, 0, 0);
        qemu.SetState(VhostUserRequest.SetVringEnable, 1, 0);
        var bases = new[] { qemu.GetVringBase(0), qemu.GetVringBase(1) };
        qemu.SetVringFd(VhostUserRequest.SetVringCall, 0, Calls[0].Fd);
        qemu.SetVringFd(VhostUserRequest.SetVringCall, 1, Calls[1].Fd);
        return bases;
    }

    /// <summary>Sends <paramref name="data"/> from the driver on queue 1 (split at <paramref name="address"/>'s buffer) with an rx buffer posted first, and returns what came back on queue 0.</summary>
    public byte[] Echo(byte[] data, ulong address = 0x1_0000, ulong receive = 0x4_0000)
    {
        var rx = Rings[0];
        var tx = Rings[1];
        ushort rxUsed = rx.UsedIndex;
        ushort txUsed = tx.UsedIndex;
        Guest.Clear(receive, data.Length);
        ushort rxHead = rx.Post((receive, (uint)data.Length, true));
        Guest.Write(address, data);
        ushort txHead = tx.Post((address, (uint)data.Length, false));
        Kicks[1].Signal();
        WaitUntil(() => rx.UsedIndex == (ushort)(rxUsed + 1) && tx.UsedIndex == (ushort)(txUsed + 1), "the echo in the used rings");
        tx.UsedElement(txUsed).Should().Be((txHead, 0u));
        rx.UsedElement(rxUsed).Should().Be((rxHead, (uint)data.Length));
        return Guest.Read(receive, data.Length);
    }

    /// <summary>SET_MEM_TABLE over a copy of guest memory in a new memfd (a DIMM hot-add's full table); the old memfd is closed by the test.</summary>
    public void ReplaceMemory()
    {
        var fresh = new TestGuest();
        Guest.CopyTo(fresh);
        var old = Guest;
        Guest = fresh;
        foreach (var ring in Rings)
        {
            ring.MoveTo(fresh);
        }
        Qemu!.SetMemTable(fresh.Table()).Should().Be(0UL);
        old.Dispose();
    }

    public static void WaitUntil(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + FakeFrontEnd.ReplyTimeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out waiting for {what}");
            }
            Thread.Sleep(2);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Qemu?.Dispose();
        await Server.DisposeAsync();
        Guest.Dispose();
        foreach (var fd in Kicks.Concat(Calls).Concat(Errs).Concat(_retired))
        {
            fd.Dispose();
        }
        _directory.Dispose();
    }
}
