using FluentAssertions;
using KataAgent.Host.Vm;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Host;

/// <summary>
/// qemu's command line for shared guest RAM and virtio-fs shares, virtiofsd's arguments and launch, and what the
/// options refuse: no qemu needed (a virtiofsd that fails at start is a script standing in for it).
/// </summary>
public sealed class QemuSharedDirectoryTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private QemuOptions Options(Func<QemuOptions, QemuOptions>? change = null)
    {
        string kernel = _temp.File("vmlinuz");
        string initrd = _temp.File("initrd.img");
        File.WriteAllBytes(kernel, []);
        File.WriteAllBytes(initrd, []);
        var options = new QemuOptions { KernelPath = kernel, InitrdPath = initrd, StateDirectory = _temp.File("vm") };
        return change is null ? options : change(options);
    }

    private string Share(string name)
    {
        string path = _temp.File(name);
        Directory.CreateDirectory(path);
        return path;
    }

    private static List<string> Values(string[] arguments, string option) =>
        [.. arguments.Select((a, i) => (a, i)).Where(p => p.a == option).Select(p => arguments[p.i + 1])];

    [Fact]
    public void Guest_ram_is_a_shared_memfd_backend_the_machine_uses_with_or_without_memory_hot_plug()
    {
        var plain = new QemuVm(Options(o => o with { MemoryMiB = 768 })).BuildArguments();
        Values(plain, "-object").Should().Equal("memory-backend-memfd,id=guest-ram,size=768M,share=on");
        Values(plain, "-machine").Should().Equal("q35,accel=tcg,memory-backend=guest-ram");
        Values(plain, "-m").Should().Equal("768");

        var growable = new QemuVm(Options(o => o with { MemoryMiB = 512, MaxMemoryMiB = 2048 })).BuildArguments();
        Values(growable, "-object").Should().Equal("memory-backend-memfd,id=guest-ram,size=512M,share=on");
        Values(growable, "-m").Should().ContainSingle().Which.Should().Be("size=512M,slots=4,maxmem=2048M", "the backend's size is the boot size -m names; DIMMs bring their own");
    }

    [Fact]
    public void Each_share_is_a_vhost_user_fs_device_on_its_own_root_port_after_the_nics()
    {
        string state = _temp.File("vm");
        var options = Options(o => o with
        {
            Disks = [new QemuDisk(_temp.File("d.img"))],
            HotplugSlots = 2,
            NetworkDevices = [new QemuNetworkDevice { Netdev = "tap,ifname=t0,script=no,downscript=no", Mac = "52:54:00:00:00:01" }],
            SharedDirectories = [new QemuSharedDirectory("kataShared", Share("a")), new QemuSharedDirectory("second.share", Share("b"), ReadOnly: true)],
        });

        var arguments = new QemuVm(options).BuildArguments();

        var ports = Values(arguments, "-device").Where(d => d.StartsWith("pcie-root-port", StringComparison.Ordinal)).ToList();
        ports.Should().HaveCount(6, "a disk, two hot-plug ports, a NIC and two shares");
        ports[4].Should().Be("pcie-root-port,id=rp4,bus=pcie.0,chassis=5,addr=0x14");
        ports[5].Should().Be("pcie-root-port,id=rp5,bus=pcie.0,chassis=6,addr=0x15");
        Values(arguments, "-chardev").Should().Contain([
            $"socket,id=vfs-kataShared,path={state}/vfs-kataShared.sock",
            $"socket,id=vfs-second.share,path={state}/vfs-second.share.sock"]);
        Values(arguments, "-device").Where(d => d.StartsWith("vhost-user-fs-pci", StringComparison.Ordinal)).Should().Equal(
            "vhost-user-fs-pci,chardev=vfs-kataShared,tag=kataShared,id=fs-kataShared,queue-size=1024,bus=rp4",
            "vhost-user-fs-pci,chardev=vfs-second.share,tag=second.share,id=fs-second.share,queue-size=1024,bus=rp5");
        Array.IndexOf(arguments, "-pidfile").Should().BeGreaterThan(Array.LastIndexOf(arguments, "-device"));
    }

    [Fact]
    public void Virtiofsd_runs_sandboxed_with_the_cache_mode_submounts_xattrs_and_one_worker()
    {
        var share = new QemuSharedDirectory("kataShared", "/srv/a,b\\c", Cache: QemuVirtiofsCache.None);

        var arguments = Virtiofsd.Arguments(share, "/run/vm/vfs-kataShared.sock");

        arguments.Should().Equal(
            "--socket-path=/run/vm/vfs-kataShared.sock",
            "-o", "source=/srv/a\\,b\\\\c",
            "-o", "sandbox=namespace",
            "-o", "cache=none",
            "-o", "announce_submounts",
            "-o", "xattr",
            "--thread-pool-size=1");
        Virtiofsd.Arguments(share with { Cache = QemuVirtiofsCache.Auto }, "/s").Should().Contain("cache=auto");
        Virtiofsd.Arguments(share with { Cache = QemuVirtiofsCache.Always }, "/s").Should().Contain("cache=always");
        Virtiofsd.DaemonLockFileFor("/run/vm/vfs-kataShared.sock").Should().Be("/var/run/virtiofsd/.run.vm.vfs-kataShared.sock.pid");
    }

    [Fact]
    public void Read_only_shares_get_a_read_only_view_of_the_directory_and_the_mounts_below_it()
    {
        string root = Share("ro");
        string mountinfo = _temp.File("mountinfo");
        File.WriteAllLines(mountinfo, [
            "22 1 254:0 / / rw,relatime - ext4 /dev/vda rw",
            $"30 22 0:40 / {root}/sub rw - tmpfs t rw",
            $"31 30 0:41 / {root}/sub/with\\040space rw - tmpfs t rw",
            $"32 22 0:42 / {root}-sibling rw - tmpfs t rw",
        ]);

        Virtiofsd.ReadOnlyMounts(root, mountinfo).Should().Equal(root, $"{root}/sub", $"{root}/sub/with space");
        Virtiofsd.UnescapeMountPath("/a\\011b\\134c").Should().Be("/a\tb\\c");
    }

    [Theory]
    [InlineData(false, "setpriv", "--pdeathsig", "KILL", "--", "sh")]
    [InlineData(true, "setsid", "-f", "sh")]
    public void The_launcher_ties_virtiofsd_to_its_owner_or_detaches_it_like_qemu(bool detached, params string[] start)
    {
        string state = _temp.File("vm");
        var command = Virtiofsd.CommandFor("/usr/lib/qemu/virtiofsd", state, new QemuSharedDirectory("t", "/srv/t"), detached, []);

        command.Take(start.Length).Should().Equal(start);
        command.Should().ContainInOrder("-c", Virtiofsd.LaunchScript, "virtiofsd", $"{state}/virtiofsd-t.pid", $"{state}/virtiofsd-t.log", "--", "/usr/lib/qemu/virtiofsd", $"--socket-path={state}/vfs-t.sock");
        var readOnly = Virtiofsd.CommandFor("/usr/lib/qemu/virtiofsd", state, new QemuSharedDirectory("t", "/srv/t", ReadOnly: true), detached, ["/srv/t", "/srv/t/m"]);
        readOnly.Should().ContainInOrder("unshare", "--mount", "--propagation", "slave", "--", "sh", "-c");
        readOnly.Should().ContainInOrder($"{state}/virtiofsd-t.log", "/srv/t", "/srv/t/m", "--", "/usr/lib/qemu/virtiofsd");
    }

    [Theory]
    [InlineData("")]
    [InlineData("a-tag-that-is-37-bytes-long-123456789")]
    [InlineData("-leading-dash")]
    [InlineData("with,comma")]
    [InlineData("with space")]
    [InlineData("ünicode")]
    public void Bad_tags_are_refused_naming_the_tag(string tag)
    {
        var start = () => QemuVm.Validate(Options(o => o with { SharedDirectories = [new QemuSharedDirectory(tag, Share("s"))] }));
        start.Should().Throw<ArgumentException>().Which.Message.Should().Contain($"'{tag}' is not a virtio-fs tag");
    }

    [Fact]
    public void A_36_byte_tag_is_the_longest_accepted_and_paths_are_made_absolute()
    {
        string tag = new('t', QemuSharedDirectory.MaxTagBytes);
        Directory.CreateDirectory(_temp.File("rel"));
        string previous = Environment.CurrentDirectory;
        Environment.CurrentDirectory = _temp.Path;
        try
        {
            var options = QemuVm.Validate(Options(o => o with { SharedDirectories = [new QemuSharedDirectory(tag, "rel")], VirtiofsdPath = "/bin/sh" }));
            options.SharedDirectories.Should().Equal(new QemuSharedDirectory(tag, _temp.File("rel")));
        }
        finally
        {
            Environment.CurrentDirectory = previous;
        }
    }

    [Fact]
    public void A_missing_directory_a_duplicate_tag_and_too_many_ports_are_refused()
    {
        var missing = () => QemuVm.Validate(Options(o => o with { SharedDirectories = [new QemuSharedDirectory("gone", _temp.File("nope"))] }));
        missing.Should().Throw<DirectoryNotFoundException>().Which.Message.Should().Contain(_temp.File("nope")).And.Contain("'gone'");

        string dir = Share("s");
        var twice = () => QemuVm.Validate(Options(o => o with { SharedDirectories = [new QemuSharedDirectory("x", dir), new QemuSharedDirectory("x", dir)] }));
        twice.Should().Throw<ArgumentException>().Which.Message.Should().Contain("'x' is used twice");

        var crowded = () => QemuVm.Validate(Options(o => o with { HotplugSlots = 14, SharedDirectories = [new QemuSharedDirectory("a", dir), new QemuSharedDirectory("b", dir)] }));
        crowded.Should().Throw<ArgumentException>().Which.Message.Should().Contain("SharedDirectories (2)");
    }

    [Fact]
    public void A_missing_virtiofsd_names_its_path_and_package()
    {
        string absent = _temp.File("no-virtiofsd");
        var start = () => QemuVm.Validate(Options(o => o with { VirtiofsdPath = absent, SharedDirectories = [new QemuSharedDirectory("s", Share("s"))] }));

        var error = start.Should().Throw<FileNotFoundException>().Which;
        error.Message.Should().Contain(absent).And.Contain("qemu-system-common");
        var noShares = () => QemuVm.Validate(Options(o => o with { VirtiofsdPath = absent }));
        noShares.Should().NotThrow("a VM without shares does not need virtiofsd");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_virtiofsd_that_exits_at_start_fails_with_its_log_tail_and_leaves_no_socket(bool detached)
    {
        string state = _temp.File(detached ? "vm-detached" : "vm-owned");
        Directory.CreateDirectory(state);
        string fake = _temp.File("fake-virtiofsd");
        File.WriteAllText(fake, "#!/bin/sh\necho \"fuse: unknown option 'bogus'\" >&2\nexit 3\n");
        File.SetUnixFileMode(fake, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        var start = async () => await Virtiofsd.StartAsync(fake, state, new QemuSharedDirectory("s", Share("s")), detached, CancellationToken.None);

        var error = (await start.Should().ThrowAsync<VmException>()).Which;
        error.Message.Should().Contain("virtiofsd for shared directory 's'").And.Contain("exited at start").And.Contain("fuse: unknown option 'bogus'");
        if (!detached)
        {
            error.Message.Should().Contain("with code 3", "a child's exit code is known");
        }
        File.Exists(Path.Combine(state, "vfs-s.sock")).Should().BeFalse();
        File.Exists(Path.Combine(state, "virtiofsd-s.pid")).Should().BeFalse();
        File.ReadAllText(Path.Combine(state, "virtiofsd-s.log")).Should().Contain("bogus", "the log stays for whoever looks into it");
    }

    [Fact]
    public async Task A_start_whose_second_virtiofsd_fails_stops_the_first_and_removes_the_state_before_any_qemu()
    {
        // A stand-in virtiofsd: for tag "bad" it fails; otherwise it makes the socket path exist and waits (tail -f names it, so it can be found).
        string fake = _temp.File("fake-virtiofsd");
        File.WriteAllText(fake, """
            #!/bin/sh
            for a in "$@"; do case "$a" in --socket-path=*) socket=${a#--socket-path=};; esac; done
            case "$socket" in *vfs-bad.sock) echo "cannot serve bad" >&2; exit 4;; esac
            : > "$socket"
            exec tail -f "$socket"
            """);
        File.SetUnixFileMode(fake, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var options = Options(o => o with
        {
            VirtiofsdPath = fake,
            QemuPath = _temp.File("no-qemu-needed"),
            SharedDirectories = [new QemuSharedDirectory("good", Share("good")), new QemuSharedDirectory("bad", Share("bad"))],
        });

        var start = async () => await QemuVm.StartAsync(options);

        var error = (await start.Should().ThrowAsync<VmException>()).Which;
        error.Message.Should().Contain("'bad'").And.Contain("exited at start with code 4").And.Contain("cannot serve bad");
        Directory.Exists(options.StateDirectory).Should().BeFalse("the failed start removes its state directory");
        var sleepers = Directory.EnumerateDirectories("/proc").Where(d => int.TryParse(Path.GetFileName(d), out _))
            .Where(d => { try { return File.ReadAllText(Path.Combine(d, "cmdline")).Contains(options.StateDirectory, StringComparison.Ordinal); } catch (IOException) { return false; } })
            .ToList();
        sleepers.Should().BeEmpty("the first share's virtiofsd is stopped when the second one fails");
    }
}
