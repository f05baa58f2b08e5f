using FluentAssertions;
using KataAgent.Host.Containers;
using KataAgent.Host.Sandboxes;
using KataAgent.Host.SharedFs;
using KataAgent.Protocols.Agent;
using KataAgent.Rootfs.Busybox;
using KataAgent.VmTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace KataAgent.VmTests.Sandboxes;

/// <summary>
/// The Sandbox API end to end on qemu (TCG) with its default, <see cref="RootfsMode.VirtioFs"/>: containers run from a
/// busybox rootfs directory shared as it is through the sandbox's virtio-fs share (Kata's layout in the state
/// directory, virtiofsd serving <c>shared/</c>), bind volumes through the same share, symlinks contained, nothing left
/// mounted on either side after a removal. One sandbox serves the class; each test runs its own containers in it.
/// </summary>
[Collection(DebianKernelCollection.Name)]
public sealed class VirtioFsSandboxTests(VirtioFsSandboxTests.SandboxFixture vm, ITestOutputHelper output) : IClassFixture<VirtioFsSandboxTests.SandboxFixture>
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task A_container_runs_from_a_shared_rootfs_directory_and_writes_go_both_ways()
    {
        File.WriteAllText(Path.Combine(vm.Rootfs, "from-host"), "written on the host\n");
        var spec = ContainerSpecs.Default(["sh", "-c", "cat /etc/marker /from-host; grep ' / ' /proc/mounts | cut -d' ' -f3; echo written in the container > /from-container"], terminal: false);

        var (status, stdout) = await RunAsync("both-ways", spec);

        status.Should().Be(0);
        stdout.Should().Be("shared, not copied\nwritten on the host\nvirtiofs\n");
        File.ReadAllText(Path.Combine(vm.Rootfs, "from-container")).Should().Be("written in the container\n", "the container's rootfs is the host directory");
    }

    [Fact]
    public async Task A_read_only_root_is_read_only_in_the_container()
    {
        var spec = ContainerSpecs.Default(["sh", "-c", "touch /ro-root-probe 2>/dev/null && echo writable || echo read-only"], terminal: false);
        spec.Root.Readonly = true;

        var (status, stdout) = await RunAsync("ro-root", spec);

        status.Should().Be(0);
        stdout.Should().Be("read-only\n");
        File.Exists(Path.Combine(vm.Rootfs, "ro-root-probe")).Should().BeFalse();
    }

    [Fact]
    public async Task Bind_volumes_go_through_the_share_read_write_and_read_only()
    {
        string rw = vm.Temp.CreateDirectory("volume-rw");
        string ro = vm.Temp.CreateDirectory("volume-ro");
        File.WriteAllText(Path.Combine(rw, "in"), "rw volume\n");
        File.WriteAllText(Path.Combine(ro, "in"), "ro volume\n");
        var spec = ContainerSpecs.Default(["sh", "-c", "cat /data/in /config/in; echo out > /data/out; echo x > /config/out 2>/dev/null && echo config writable || echo config read-only"], terminal: false);
        spec.Mounts.Add(new Mount { Destination = "/data", Source = rw, Type = "bind", Options = { "rbind", "rw" } });
        spec.Mounts.Add(new Mount { Destination = "/config", Source = ro, Type = "bind", Options = { "rbind", "ro" } });

        var (status, stdout) = await RunAsync("volumes", spec);

        status.Should().Be(0);
        stdout.Should().Be("rw volume\nro volume\nconfig read-only\n");
        File.ReadAllText(Path.Combine(rw, "out")).Should().Be("out\n");
        File.Exists(Path.Combine(ro, "out")).Should().BeFalse();
        StateDirectory.MountPoints(vm.State).Should().NotContain(p => p.Contains("volumes-", StringComparison.Ordinal), "the removal took the volumes out of the share");
    }

    [Fact]
    public async Task Symlinks_in_the_rootfs_pointing_outside_resolve_inside_the_container()
    {
        // Targets that exist on the host and in the guest with other contents: the container must see its rootfs's.
        Directory.CreateDirectory(Path.Combine(vm.Rootfs, "links"));
        File.WriteAllText(Path.Combine(vm.Rootfs, "etc", "hostname"), "the rootfs's hostname file\n");
        File.CreateSymbolicLink(Path.Combine(vm.Rootfs, "links", "absolute"), "/etc/hostname");
        File.CreateSymbolicLink(Path.Combine(vm.Rootfs, "links", "relative"), "../../../../../../../../etc/hostname");
        // A mount destination through a link that climbs out: created and mounted inside the rootfs.
        File.CreateSymbolicLink(Path.Combine(vm.Rootfs, "links", "volume"), "../../../../../../../../etc/escaped-volume");
        string volume = vm.Temp.CreateDirectory("volume-link");
        File.WriteAllText(Path.Combine(volume, "in"), "through a link\n");
        var spec = ContainerSpecs.Default(["sh", "-c", "cat /links/absolute /links/relative /links/volume/in"], terminal: false);
        spec.Mounts.Add(new Mount { Destination = "/links/volume", Source = volume, Type = "bind", Options = { "rbind" } });

        var (status, stdout) = await RunAsync("links", spec);

        status.Should().Be(0);
        stdout.Should().Be("the rootfs's hostname file\nthe rootfs's hostname file\nthrough a link\n");
        Directory.Exists(Path.Combine(vm.Rootfs, "etc", "escaped-volume")).Should().BeTrue("the destination was resolved inside the rootfs");
    }

    [Fact]
    public async Task Removing_a_container_leaves_no_mount_of_it_on_the_host_or_in_the_guest()
    {
        string volume = vm.Temp.CreateDirectory("volume-gone");
        var spec = ContainerSpecs.Default(["true"], terminal: false);
        spec.Mounts.Add(new Mount { Destination = "/data", Source = volume, Type = "bind", Options = { "rbind" } });
        (await RunAsync("gone", spec)).Status.Should().Be(0);

        StateDirectory.MountPoints(vm.State).Should().BeEquivalentTo(
            [Path.Combine(vm.State, "mounts"), Path.Combine(vm.State, "shared"), Path.Combine(vm.State, "private")],
            "only the share's own layout stays mounted on the host");
        // The guest's mounts below the share, as a new container sees them through an rbind of the share (a guest path).
        var probe = ContainerSpecs.Default(["sh", "-c", "cut -d' ' -f5 /proc/self/mountinfo | grep '^/guest-share/' | sort"], terminal: false);
        probe.Mounts.Add(new Mount { Destination = "/guest-share", Source = Sandbox.GuestShareDirectory, Type = "bind", Options = { "rbind", "ro" } });
        var (status, stdout) = await RunAsync("probe", probe);
        output.WriteLine(stdout);
        status.Should().Be(0);
        stdout.Should().NotContain("/guest-share/gone", "the guest dropped its submounts of the removed container's rootfs and volume");
    }

    /// <summary>Creates, starts and waits for a container; removes it (through the sandbox) whatever happened.</summary>
    private async Task<(int Status, string Stdout)> RunAsync(string id, Spec spec)
    {
        var container = await vm.Sandbox.CreateContainerAsync(id, vm.Rootfs, spec);
        try
        {
            var stdout = StreamText.ReadAllAsync(container.InitProcess.Stdout);
            var stderr = StreamText.ReadAllAsync(container.InitProcess.Stderr!);
            await container.StartAsync();
            int status = await container.InitProcess.WaitAsync().WaitAsync(Limit);
            output.WriteLine($"{id}: status {status}; stderr: {await stderr.WaitAsync(Limit)}");
            return (status, await stdout.WaitAsync(Limit));
        }
        finally
        {
            await container.RemoveAsync();
            await container.DisposeAsync();
        }
    }

    /// <summary>One virtio-fs sandbox for the class, and a busybox rootfs directory it shares.</summary>
    public sealed class SandboxFixture : IAsyncLifetime
    {
        public TempDirectory Temp { get; } = new();

        public Sandbox Sandbox { get; private set; } = null!;

        public string Rootfs => Temp.File("rootfs");

        public string State => Temp.File("sandbox");

        public async Task InitializeAsync()
        {
            HostTools.RequireQemu();
            await BusyboxRootfs.CreateAsync(Rootfs, RepoPaths.Busybox);
            File.WriteAllText(Path.Combine(Rootfs, "etc", "marker"), "shared, not copied\n");
            Sandbox = await Sandbox.StartAsync(VmOptions.Sandbox(State, "vfs"));
        }

        public async Task DisposeAsync()
        {
            try
            {
                if (Sandbox is not null)
                {
                    await Sandbox.DestroyAsync();
                }
            }
            finally
            {
                // Never a recursive delete through a bind mount a failed destroy left.
                StateDirectory.Delete(State);
                Temp.Dispose();
            }
        }
    }
}
