using System.Text;
using CliWrap;
using FluentAssertions;
using KataAgent.Host;
using KataAgent.Host.Sandboxes;
using KataAgent.Host.Vm;
using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Guest;
using KataAgent.Testing;
using KataAgent.VmTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;
using OciMount = KataAgent.Protocols.Agent.Mount;

namespace KataAgent.VmTests.Boot;

/// <summary>
/// virtio-fs on a real qemu (TCG), one VM for the tests that leave it sound: Kata's kataShared share cold-plugged and
/// mounted by CreateSandbox's storage exactly as Kata's runtime sends it; a container whose rootfs is a directory in
/// that share (as Kata lays out a shared rootfs) reading what the host wrote and writing what the host then reads; a
/// hot-plugged second share mounted by a container's storage and removed again; RemoveStaleVirtiofsShareMounts
/// detaching a guest submount whose host directory was removed.
/// </summary>
public sealed class QemuVmSharedDirectoryTests(QemuVmSharedDirectoryTests.SharedVm fixture, ITestOutputHelper output) : IClassFixture<QemuVmSharedDirectoryTests.SharedVm>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task A_container_runs_from_a_rootfs_directory_in_the_cold_share_and_files_cross_both_ways()
    {
        string rootfs = await fixture.RootfsAsync("c-both-ways");
        await File.WriteAllTextAsync(Path.Combine(rootfs, "from-host.txt"), "written on the host\n");

        var (status, stdout) = await fixture.RunAsync("c-both-ways", ["sh", "-c", "cat /from-host.txt; echo written in the guest > /from-guest.txt; stat -c %s /from-guest.txt"]);

        output.WriteLine(stdout);
        status.Should().Be(0);
        stdout.Should().Be("written on the host\n21\n");
        (await File.ReadAllTextAsync(Path.Combine(rootfs, "from-guest.txt"))).Should().Be("written in the guest\n", "the guest's write went through virtiofsd to the host directory");
        fixture.Vm.SharedDirectories.Select(s => s.Tag).Should().Contain(GuestLayout.SharedFsTag);
    }

    [Fact]
    public async Task A_hot_plugged_share_is_mounted_by_a_containers_storage_and_removed_again()
    {
        var vm = fixture.Vm;
        string hostDirectory = fixture.Temp.File("hot");
        Directory.CreateDirectory(hostDirectory);
        await File.WriteAllTextAsync(Path.Combine(hostDirectory, "hello.txt"), "hello through the hot-plugged share\n");
        string socket = Path.Combine(vm.StateDirectory, "vfs-hotShare.sock");

        await vm.AddSharedDirectoryAsync(new QemuSharedDirectory("hotShare", hostDirectory));

        vm.SharedDirectories.Select(s => s.Tag).Should().Contain("hotShare");
        File.Exists(socket).Should().BeTrue();
        VirtiofsdProcesses.In(vm.StateDirectory).Should().HaveCountGreaterThan(2, "each share has its virtiofsd (a parent and its sandboxed child)");
        var duplicate = async () => await vm.AddSharedDirectoryAsync(new QemuSharedDirectory("hotShare", hostDirectory));
        (await duplicate.Should().ThrowAsync<ArgumentException>()).Which.Message.Should().Contain("'hotShare'");

        const string GuestMount = "/run/kata-containers/sandbox/hot-share";
        await fixture.RootfsAsync("c-hot");
        var storage = new Storage { Driver = "virtio-fs", Source = "hotShare", Fstype = "virtiofs", MountPoint = GuestMount };
        var (status, stdout) = await fixture.RunAsync("c-hot", ["sh", "-c", "cat /mnt/hello.txt; echo back > /mnt/back.txt"], [storage],
            [new OciMount { Destination = "/mnt", Source = GuestMount, Type = "bind", Options = { "rbind" } }]);

        status.Should().Be(0);
        stdout.Should().Be("hello through the hot-plugged share\n");
        (await File.ReadAllTextAsync(Path.Combine(hostDirectory, "back.txt"))).Should().Be("back\n");

        await vm.RemoveSharedDirectoryAsync("hotShare");

        vm.SharedDirectories.Select(s => s.Tag).Should().NotContain("hotShare");
        File.Exists(socket).Should().BeFalse("its socket is removed");
        File.Exists(VirtiofsdProcesses.LockFileFor(socket)).Should().BeFalse("virtiofsd's own lock file is removed too");
        (await vm.Qmp.ExecuteAsync("query-pci")).ToString().Should().NotContain("fs-hotShare");
        var again = async () => await vm.RemoveSharedDirectoryAsync("hotShare");
        (await again.Should().ThrowAsync<VmException>()).Which.Message.Should().Contain("no directory tagged 'hotShare'");
        vm.VirtiofsdFailure.IsCompleted.Should().BeFalse("a removal is not a failure");
    }

    [Fact]
    public async Task A_read_only_share_refuses_the_guests_writes_though_the_guest_mounts_it_read_write()
    {
        var vm = fixture.Vm;
        string hostDirectory = fixture.Temp.File("readonly");
        Directory.CreateDirectory(hostDirectory);
        await File.WriteAllTextAsync(Path.Combine(hostDirectory, "ro.txt"), "read me\n");
        await vm.AddSharedDirectoryAsync(new QemuSharedDirectory("roShare", hostDirectory, ReadOnly: true));
        try
        {
            const string GuestMount = "/run/kata-containers/sandbox/ro-share";
            await fixture.RootfsAsync("c-ro");
            var storage = new Storage { Driver = "virtio-fs", Source = "roShare", Fstype = "virtiofs", MountPoint = GuestMount };
            var (status, stdout) = await fixture.RunAsync("c-ro", ["sh", "-c", "exec 2>&1; cat /mnt/ro.txt; echo x > /mnt/new.txt; echo status=$?; rm /mnt/ro.txt; echo status=$?"], [storage],
                [new OciMount { Destination = "/mnt", Source = GuestMount, Type = "bind", Options = { "rbind" } }]);

            output.WriteLine(stdout);
            status.Should().Be(0);
            stdout.Should().StartWith("read me\n").And.Contain("Read-only file system").And.NotContain("status=0");
            File.Exists(Path.Combine(hostDirectory, "new.txt")).Should().BeFalse();
            File.Exists(Path.Combine(hostDirectory, "ro.txt")).Should().BeTrue();
        }
        finally
        {
            await vm.RemoveSharedDirectoryAsync("roShare");
        }
    }

    [Fact]
    public async Task A_guest_submount_whose_host_directory_is_removed_is_detached_by_RemoveStaleVirtiofsShareMounts()
    {
        var vm = fixture.Vm;
        string volume = Path.Combine(fixture.ShareDirectory, "stale-volume");
        Directory.CreateDirectory(volume);
        await Cli.Wrap("mount").WithArguments(["-t", "tmpfs", "-o", "size=4m", "stalevol", volume]).ExecuteAsync();
        try
        {
            await File.WriteAllTextAsync(Path.Combine(volume, "v.txt"), "v");
            // statfs crosses into the submount virtiofsd announces for the tmpfs: the guest automounts it.
            string guestPath = GuestLayout.SharedDirectory + "stale-volume";
            var stats = await vm.Agent.GetVolumeStatisticsAsync(guestPath);
            stats.Usage.Should().Contain(u => u.Total == 4 * 1024 * 1024, "the guest sees the host's 4 MiB tmpfs through the share");
        }
        finally
        {
            // Lazily, as Kata's runtime unmounts shared volumes: virtiofsd holds inodes of it open in its namespace,
            // where the host's unmount propagates, so a plain umount is EBUSY.
            await Cli.Wrap("umount").WithArguments(["-l", volume]).ExecuteAsync();
        }
        Directory.Delete(volume);
        // With cache=auto the guest trusts a directory entry for 1 s: only a lookup after that asks virtiofsd again
        // and finds the directory gone (Kata's runtime calls this RPC long after a volume went, not at once).
        await Task.Delay(TimeSpan.FromSeconds(2));

        await vm.Agent.RemoveStaleShareMountsAsync();

        string log = await WaitForAgentLogAsync(vm, "share mount(s) below");
        output.WriteLine(log);
        log.Should().MatchRegex(@"revalidated [1-9][0-9]* share mount\(s\) below /run/kata-containers/shared/containers/; [1-9][0-9]* gone");
        log.Should().Contain("stale share mount /run/kata-containers/shared/containers/stale-volume");
    }

    private static async Task<string> WaitForAgentLogAsync(QemuVm vm, string text)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            string log = File.Exists(vm.AgentLogPath) ? await File.ReadAllTextAsync(vm.AgentLogPath) : "";
            if (log.Contains(text, StringComparison.Ordinal) || DateTime.UtcNow > deadline)
            {
                return string.Join('\n', log.Split('\n').Where(l => l.Contains("share mount", StringComparison.Ordinal)));
            }
            await Task.Delay(200);
        }
    }

    /// <summary>
    /// One VM with Kata's share cold-plugged: the host directory is a shared bind mount of itself, so mounts made in it
    /// later (as Kata's runtime bind-mounts rootfs and volumes) reach virtiofsd's namespace; CreateSandbox mounts the
    /// share with the storage Kata's runtime sends.
    /// </summary>
    public sealed class SharedVm : IAsyncLifetime
    {
        public TempDirectory Temp { get; } = new();

        public QemuVm Vm { get; private set; } = null!;

        public string ShareDirectory => Temp.File("shared");

        public async Task InitializeAsync()
        {
            HostTools.RequireQemu();
            Directory.CreateDirectory(ShareDirectory);
            await Cli.Wrap("mount").WithArguments(["--bind", ShareDirectory, ShareDirectory]).ExecuteAsync();
            await Cli.Wrap("mount").WithArguments(["--make-shared", ShareDirectory]).ExecuteAsync();
            Vm = await QemuVm.StartAsync(new QemuOptions
            {
                KernelPath = RepoPaths.Kernel,
                InitrdPath = RepoPaths.Initrd,
                StateDirectory = Temp.File("vm"),
                HotplugSlots = 2,
                SharedDirectories = [new QemuSharedDirectory(GuestLayout.SharedFsTag, ShareDirectory)],
            });
            var sandbox = new CreateSandboxRequest { Hostname = "vfs", SandboxId = "vfs" };
            // As Kata's runtime sends it (kata_agent.go setupStorages).
            sandbox.Storages.Add(new Storage { Driver = "virtio-fs", Source = "kataShared", Fstype = "virtiofs", MountPoint = "/run/kata-containers/shared/containers/" });
            await Vm.Agent.CreateSandboxAsync(sandbox);
        }

        /// <summary>A busybox rootfs in the share at CID/rootfs, where Kata's runtime puts a shared container rootfs.</summary>
        public async Task<string> RootfsAsync(string containerId)
        {
            string rootfs = Path.Combine(ShareDirectory, containerId, "rootfs");
            Directory.CreateDirectory(rootfs);
            await Cli.Wrap("cp").WithArguments(["-a", Path.Combine(RepoPaths.Root, "out", "rootfs") + "/.", rootfs]).ExecuteAsync();
            return rootfs;
        }

        /// <summary>Runs a container whose OCI root is the guest path of <see cref="RootfsAsync"/>'s directory; returns its status and stdout.</summary>
        public async Task<(int Status, string Stdout)> RunAsync(string id, string[] args, IEnumerable<Storage>? storages = null, IEnumerable<OciMount>? mounts = null)
        {
            var spec = ContainerSpecs.Default($"{GuestLayout.SharedDirectory}{id}/rootfs", args);
            spec.Mounts.AddRange(mounts ?? []);
            var create = new CreateContainerRequest { ContainerId = id, ExecId = id, OCI = spec };
            create.Storages.AddRange(storages ?? []);
            var agent = Vm.Agent;
            await agent.CreateContainerAsync(create);
            await agent.StartContainerAsync(new StartContainerRequest { ContainerId = id });
            var wait = agent.WaitProcessAsync(new WaitProcessRequest { ContainerId = id, ExecId = id });
            var stdout = new StringBuilder();
            while (true)
            {
                var chunk = await agent.ReadStdoutAsync(new ReadStreamRequest { ContainerId = id, ExecId = id, Len = 32 * 1024 }).WaitAsync(Timeout);
                if (chunk.Data.IsEmpty)
                {
                    break;
                }
                stdout.Append(chunk.Data.ToStringUtf8());
            }
            int status = (await wait.WaitAsync(Timeout)).Status;
            await agent.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = id, Timeout = 10 });
            return (status, stdout.ToString());
        }

        public async Task DisposeAsync()
        {
            if (Vm is not null)
            {
                await Vm.DisposeAsync();
            }
            await Cli.Wrap("umount").WithArguments(["-l", ShareDirectory]).WithValidation(CommandResultValidation.None).ExecuteAsync();
            Temp.Dispose();
        }
    }
}
