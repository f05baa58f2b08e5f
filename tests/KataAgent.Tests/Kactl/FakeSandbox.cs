using System.Text.Json;
using System.Text.Json.Nodes;
using KataAgent.Tests.Infrastructure;

namespace KataAgent.Tests.Kactl;

/// <summary>
/// A sandbox directory in a scratch run directory (KACTL_RUN_DIR) as kactl run -d leaves one:
/// sandbox.json, the VM's vm.json and, when asked, a fake qemu that makes it "running". No VM: for the commands
/// that only read state or talk to sockets the test provides.
/// </summary>
public sealed class FakeSandbox : IAsyncDisposable
{
    private FakeSandbox(string runDirectory, string id, FakeQemuProcess? qemu)
    {
        RunDirectory = runDirectory;
        Id = id;
        Qemu = qemu;
    }

    public string RunDirectory { get; }

    public string Id { get; }

    public string Directory => Path.Combine(RunDirectory, Id);

    public FakeQemuProcess? Qemu { get; }

    /// <summary>
    /// Writes RUNDIR/ID/sandbox.json and the VM's vm.json (a serial-channel VM with a debug console unless
    /// <paramref name="vsockDevice"/> names the vsock device it got: "VhostUser" or "Kernel"); with
    /// <paramref name="running"/> a fake qemu is started first and its pid recorded, else a pid no process has.
    /// Without <paramref name="vmState"/> there is no vm.json: the pid comes from qemu.pid alone.
    /// </summary>
    public static async Task<FakeSandbox> CreateAsync(TempDirectory runDirectory, string id, bool running, string containerId = "c1", string[]? args = null, DateTimeOffset? createdAt = null, string? vsockDevice = null, bool vmState = true)
    {
        string directory = Path.Combine(runDirectory.Path, id);
        System.IO.Directory.CreateDirectory(directory);
        FakeQemuProcess? qemu = null;
        if (running)
        {
            qemu = new FakeQemuProcess(directory);
            await qemu.WaitUntilRunningAsync();
        }
        var record = new JsonObject
        {
            ["id"] = id,
            ["containerId"] = containerId,
            ["createdAt"] = (createdAt ?? DateTimeOffset.UtcNow).ToString("O"),
            // pid_max is at most 2^22, so this pid is never a process.
            ["qemuPid"] = qemu?.ProcessId ?? 1 << 30,
            ["args"] = new JsonArray((args ?? ["sleep", "100"]).Select(a => (JsonNode)a!).ToArray()),
        };
        // What qemu's -pidfile leaves, and what the host library reads the pid from (pid_max is at most 2^22).
        await File.WriteAllTextAsync(Path.Combine(directory, "qemu.pid"), $"{qemu?.ProcessId ?? 1 << 30}\n");
        await File.WriteAllTextAsync(Path.Combine(directory, "sandbox.json"), record.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        if (!vmState)
        {
            return new FakeSandbox(runDirectory.Path, id, qemu);
        }
        // The host library's own state, as QemuVm writes it (only what the addresses need besides the required fields).
        var vm = new JsonObject
        {
            ["options"] = new JsonObject
            {
                ["kernelPath"] = "/nonexistent/vmlinuz",
                ["initrdPath"] = "/nonexistent/initrd.img",
                ["stateDirectory"] = directory,
                ["debugConsole"] = true,
            },
            ["processId"] = qemu?.ProcessId ?? 1 << 30,
            ["usesKvm"] = false,
            ["diskPciPaths"] = new JsonArray(),
        };
        if (vsockDevice is not null)
        {
            vm["vsockDevice"] = vsockDevice;
            vm["guestCid"] = 3;
        }
        await File.WriteAllTextAsync(Path.Combine(directory, "vm.json"), vm.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return new FakeSandbox(runDirectory.Path, id, qemu);
    }

    public async ValueTask DisposeAsync()
    {
        if (Qemu is not null)
        {
            await Qemu.DisposeAsync();
        }
    }
}
