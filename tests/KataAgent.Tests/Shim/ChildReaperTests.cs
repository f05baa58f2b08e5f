using System.Diagnostics;
using FluentAssertions;
using KataAgent.Shim.Cli;
using KataAgent.Shim.Daemon;
using Xunit;

namespace KataAgent.Tests.Shim;

/// <summary>
/// The daemon's reaper takes the zombies nobody else reaps (what a subreaper adopts) and leaves .NET's own children
/// to .NET, whose exit statuses the host library reads.
/// </summary>
[Collection(ChildReaperCollection.Name)]
public sealed class ChildReaperTests
{
    private static readonly TimeSpan Grace = TimeSpan.FromMilliseconds(300);

    private static bool Exists(int pid) => Directory.Exists($"/proc/{pid}");

    [Fact]
    public async Task A_zombie_nobody_reaps_is_reaped_after_the_grace()
    {
        using var directory = new TempDirectory();
        using var socket = ShimSocket.Listen(ShimSocketAddress.UnixScheme + directory.File("s"));
        using var reaper = new ChildReaper(Grace);
        // Spawned outside .NET's Process, as an adopted orphan is: nobody but the reaper waits for it.
        int pid = DaemonLauncher.Spawn("/bin/true", ["true"], [], socket, directory.Path);

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (Exists(pid) && DateTime.UtcNow < deadline)
            await Task.Delay(20);

        Exists(pid).Should().BeFalse("the zombie was reaped");
    }

    [Fact]
    public async Task A_zombie_is_left_alone_during_the_grace()
    {
        using var directory = new TempDirectory();
        using var socket = ShimSocket.Listen(ShimSocketAddress.UnixScheme + directory.File("s"));
        using var reaper = new ChildReaper(TimeSpan.FromSeconds(30));
        int pid = DaemonLauncher.Spawn("/bin/true", ["true"], [], socket, directory.Path);
        await Task.Delay(1000);

        File.ReadAllText($"/proc/{pid}/stat").Should().Contain(") Z ", "it is the waiter's to reap while the grace lasts");
        Reap(pid).Should().Be((pid, 0));
    }

    private static unsafe (int Pid, int Status) Reap(int pid)
    {
        int status;
        int reaped = KataAgent.Shim.Interop.ShimLibc.WaitPid(pid, &status, 0);
        return (reaped, status);
    }

    [Fact]
    public async Task Dotnets_children_keep_their_exit_status()
    {
        using var reaper = new ChildReaper(Grace);
        for (int i = 0; i < 20; i++)
        {
            using var process = Process.Start("/bin/sh", ["-c", $"exit {i + 1}"])!;
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(20));
            process.ExitCode.Should().Be(i + 1);
        }
        // A child .NET reaps late (its owner waits only now) is still .NET's.
        using var late = Process.Start("/bin/sh", ["-c", "exit 3"])!;
        await Task.Delay(Grace * 3);
        await late.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(20));
        late.ExitCode.Should().Be(3);
    }
}
