using FluentAssertions;
using KataAgent.Host;
using KataAgent.Host.Sandboxes;
using KataAgent.Protocols.Agent;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Containers;

/// <summary>The container's filesystem view: OCI mounts, symlink-safe destinations, masked and read-only paths, devices, and the host's mount table left alone.</summary>
public class ContainerRootfsTests
{
    [Fact]
    public async Task Bind_mount_of_a_host_directory_shows_host_files_and_ro_refuses_writes()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        using var host = new TempDirectory();
        string rw = Directory.CreateDirectory(host.File("rw")).FullName;
        string ro = Directory.CreateDirectory(host.File("ro")).FullName;
        File.WriteAllText(Path.Combine(ro, "existing.txt"), "read-only content\n");
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        var spec = ContainerSpecs.Default(rootfs.Path, ["sh", "-c",
            "cat /data/rw/late.txt; echo inside > /data/rw/written.txt && echo rw=ok; cat /data/ro/existing.txt; " +
            "touch /data/ro/nope; echo ro=$?; grep ' /data/ro ' /proc/mounts"]);
        spec.Mounts.Add(new Mount { Destination = "/data/rw", Type = "bind", Source = rw, Options = { "rbind", "rw" } });
        spec.Mounts.Add(new Mount { Destination = "/data/ro", Type = "bind", Source = ro, Options = { "bind", "ro", "nosuid" } });

        await client.CreateContainerAsync(new CreateContainerRequest { ContainerId = "bind", OCI = spec });
        // Written after the container's mounts were made: a bind mount, not a copy.
        File.WriteAllText(Path.Combine(rw, "late.txt"), "from the host\n");
        await client.StartContainerAsync(new StartContainerRequest { ContainerId = "bind" });
        int status = await ContainerRun.WaitAsync(client, "bind", "");
        string stdout = (await ContainerRun.ReadAllAsync(client, "bind", "", stderr: false)).ToUtf8();
        string stderr = (await ContainerRun.ReadAllAsync(client, "bind", "", stderr: true)).ToUtf8();
        await client.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = "bind", Timeout = 10 });

        status.Should().Be(0, stderr + agent.Output);
        stdout.Should().StartWith("from the host\nrw=ok\nread-only content\nro=1\n");
        stdout.Should().MatchRegex(@" /data/ro \S+ ro,nosuid[ ,]");
        stderr.Should().Contain("/data/ro/nope").And.Contain("Read-only file system");
        File.ReadAllText(Path.Combine(rw, "written.txt")).Should().Be("inside\n");
        File.Exists(Path.Combine(ro, "nope")).Should().BeFalse();
    }

    [Fact]
    public async Task Bind_mount_of_a_single_host_file_is_readable_and_ro_protects_it()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        using var host = new TempDirectory();
        string file = host.File("app.conf");
        File.WriteAllText(file, "key=value\n");
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        var spec = ContainerSpecs.Default(rootfs.Path, ["sh", "-c", "stat -c '%F' /etc/app/app.conf; cat /etc/app/app.conf; echo more >> /etc/app/app.conf; echo append=$?"]);
        spec.Mounts.Add(new Mount { Destination = "/etc/app/app.conf", Type = "bind", Source = file, Options = { "rbind", "ro" } });

        var (status, stdout, stderr) = await ContainerRun.RunAsync(client, "file", spec);

        status.Should().Be(0, stderr + agent.Output);
        stdout.Should().Be("regular file\nkey=value\nappend=1\n");
        stderr.Should().Contain("Read-only file system");
        File.ReadAllText(file).Should().Be("key=value\n");
    }

    [Fact]
    public async Task Tmpfs_options_mqueue_and_devpts_appear_in_the_container_mount_table()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        var spec = ContainerSpecs.Default(rootfs.Path, ["sh", "-c", "cat /proc/mounts; echo mode=$(stat -c %a /scratch); readlink /dev/ptmx; echo x > /scratch/f && echo scratch=ok"]);
        spec.Mounts.Add(new Mount { Destination = "/scratch", Type = "tmpfs", Source = "tmpfs", Options = { "nosuid", "nodev", "noexec", "size=2m", "mode=1770" } });

        var (status, stdout, stderr) = await ContainerRun.RunAsync(client, "tmpfs", spec);

        status.Should().Be(0, stderr + agent.Output);
        string scratch = stdout.Split('\n').Single(l => l.Contains(" /scratch "));
        scratch.Should().StartWith("tmpfs /scratch tmpfs rw,nosuid,nodev,noexec").And.Contain("size=2048k").And.Contain("mode=1770");
        stdout.Should().MatchRegex(@"(?m)^mqueue /dev/mqueue mqueue rw,nosuid,nodev,noexec")
            .And.MatchRegex(@"(?m)^devpts /dev/pts devpts rw,nosuid,noexec\S*mode=620,ptmxmode=666")
            .And.MatchRegex(@"(?m)^shm /dev/shm tmpfs \S*size=65536k")
            .And.Contain("mode=1770\npts/ptmx\nscratch=ok\n");
    }

    [Fact]
    public async Task Mount_destinations_through_symlinks_land_inside_the_rootfs_never_on_the_host()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        using var host = new TempDirectory();
        string source = Directory.CreateDirectory(host.File("source")).FullName;
        File.WriteAllText(Path.Combine(source, "marker"), "bound\n");
        string target = Directory.CreateDirectory(host.File("target")).FullName;
        string unique = $"ka-escape-{Guid.NewGuid():N}";
        // Absolute, relative and host-path symlinks, each trying to lead out of the rootfs.
        File.CreateSymbolicLink(Path.Combine(rootfs.Path, "evil"), "/");
        File.CreateSymbolicLink(Path.Combine(rootfs.Path, "up"), "../../../../../../../../..");
        File.CreateSymbolicLink(Path.Combine(rootfs.Path, "hostlink"), target);
        File.CreateSymbolicLink(Path.Combine(rootfs.Path, "tmp", "loop"), "loop");
        string hostMountsBefore = File.ReadAllText("/proc/self/mountinfo");
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        var spec = ContainerSpecs.Default(rootfs.Path, ["sh", "-c", $"grep -E '{unique}|{target}' /proc/mounts | cut -d' ' -f2,3; cat {target}/sub/marker; cat /tmp/{unique}.conf"]);
        spec.Mounts.Add(new Mount { Destination = $"/evil/tmp/{unique}", Type = "tmpfs", Source = "tmpfs" });
        spec.Mounts.Add(new Mount { Destination = $"/up/tmp/{unique}-rel", Type = "tmpfs", Source = "tmpfs" });
        spec.Mounts.Add(new Mount { Destination = "/hostlink/sub", Type = "bind", Source = source, Options = { "rbind" } });
        spec.Mounts.Add(new Mount { Destination = $"/evil/../evil/tmp/{unique}.conf", Type = "bind", Source = Path.Combine(source, "marker"), Options = { "rbind", "ro" } });

        var (status, stdout, stderr) = await ContainerRun.RunAsync(client, "escape", spec);

        status.Should().Be(0, stderr + agent.Output);
        stdout.Should().Be($"/tmp/{unique} tmpfs\n/tmp/{unique}-rel tmpfs\n{target}/sub {MountTypeOf(source)}\n/tmp/{unique}.conf {MountTypeOf(source)}\nbound\nbound\n");
        // Inside the rootfs...
        Directory.Exists(Path.Combine(rootfs.Path, "tmp", unique)).Should().BeTrue();
        Directory.Exists(Path.Combine(rootfs.Path, "tmp", unique + "-rel")).Should().BeTrue();
        Directory.Exists(rootfs.Path + target + "/sub").Should().BeTrue();
        File.Exists(Path.Combine(rootfs.Path, "tmp", unique + ".conf")).Should().BeTrue();
        // ...and nothing on the host.
        Directory.Exists("/tmp/" + unique).Should().BeFalse();
        Directory.Exists("/tmp/" + unique + "-rel").Should().BeFalse();
        File.Exists("/tmp/" + unique + ".conf").Should().BeFalse();
        Directory.EnumerateFileSystemEntries(target).Should().BeEmpty();
        File.ReadAllText("/proc/self/mountinfo").Should().NotContain(unique).And.NotContain(target);
        MountLines(File.ReadAllText("/proc/self/mountinfo"), rootfs.Path, host.Path).Should().BeEquivalentTo(MountLines(hostMountsBefore, rootfs.Path, host.Path));

        // A destination that is a symlink loop is refused, not followed for ever.
        var loop = ContainerSpecs.Default(rootfs.Path, ["true"]);
        loop.Mounts.Add(new Mount { Destination = "/tmp/loop/x", Type = "tmpfs", Source = "tmpfs" });
        var create = async () => await ContainerRun.RunAsync(client, "loop", loop);
        (await create.Should().ThrowAsync<AgentStatusException>()).Which.Detail.Should().Contain("too many levels of symbolic links");
    }

    [Fact]
    public async Task Masked_paths_read_empty_and_masked_directories_are_empty_and_read_only()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        Directory.CreateDirectory(Path.Combine(rootfs.Path, "secret"));
        File.WriteAllText(Path.Combine(rootfs.Path, "secret", "data"), "hidden\n");
        File.WriteAllText(Path.Combine(rootfs.Path, "etc", "token"), "hidden\n");
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        var spec = ContainerSpecs.Default(rootfs.Path, ["sh", "-c",
            "echo kcore=$(cat /proc/kcore 2>/dev/null | wc -c); echo timer_list=$(cat /proc/timer_list | wc -c); echo keys=$(cat /proc/keys | wc -c); " +
            "echo token=$(cat /etc/token | wc -c); echo firmware=$(ls -A /sys/firmware | wc -l); echo secret=$(ls -A /secret | wc -l); " +
            "touch /secret/new; echo touch=$?; echo x > /etc/token; echo token_write=$?"]);
        spec.Linux.MaskedPaths.Add("/secret");
        spec.Linux.MaskedPaths.Add("/etc/token");

        var (status, stdout, stderr) = await ContainerRun.RunAsync(client, "mask", spec);

        status.Should().Be(0, stderr + agent.Output);
        stdout.Should().Contain("kcore=0\n", "/proc/kcore is masked (or absent, as on this kernel)")
            .And.Contain("timer_list=0\n").And.Contain("keys=0\n").And.Contain("token=0\n")
            .And.Contain("firmware=0\n").And.Contain("secret=0\n").And.Contain("touch=1\n");
        stderr.Should().Contain("Read-only file system");
        // Writing to a file masked with /dev/null goes nowhere; the rootfs file is untouched.
        File.ReadAllText(Path.Combine(rootfs.Path, "etc", "token")).Should().Be("hidden\n");
        File.ReadAllText(Path.Combine(rootfs.Path, "secret", "data")).Should().Be("hidden\n");
        Directory.Exists("/sys/firmware").Should().BeTrue("the host's /sys/firmware is non-empty, so an empty listing proves the mask");
        Directory.EnumerateFileSystemEntries("/sys/firmware").Should().NotBeEmpty();
    }

    [Fact]
    public async Task Readonly_paths_refuse_writes_and_stay_readable()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        Directory.CreateDirectory(Path.Combine(rootfs.Path, "data"));
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        // Writing the hostname through /proc/sys would be harmless anyway: the container has its own UTS namespace.
        var spec = ContainerSpecs.Default(rootfs.Path, ["sh", "-c", "cat /proc/sys/kernel/hostname; echo other > /proc/sys/kernel/hostname; echo sys=$?; touch /data/f; echo data=$?; touch /tmp/f && echo tmp=ok; hostname"]);
        spec.Linux.ReadonlyPaths.Add("/data");

        var (status, stdout, stderr) = await ContainerRun.RunAsync(client, "ro", spec);

        status.Should().Be(0, stderr + agent.Output);
        stdout.Should().Be("container\nsys=1\ndata=1\ntmp=ok\ncontainer\n");
        stderr.Should().MatchRegex(@"/proc/sys/kernel/hostname: Read-only file system").And.MatchRegex(@"/data/f: Read-only file system");
        File.Exists(Path.Combine(rootfs.Path, "data", "f")).Should().BeFalse();
    }

    [Fact]
    public async Task Readonly_root_refuses_writes_but_a_tmpfs_mounted_on_it_stays_writable()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        var spec = ContainerSpecs.Default(rootfs.Path, ["sh", "-c", "touch /newfile; echo root=$?; touch /tmp/ok && echo tmp=ok; echo dev > /dev/shm/x && echo shm=ok; grep -E '^\\S+ / ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1"]);
        spec.Root.Readonly = true;
        spec.Mounts.Add(new Mount { Destination = "/tmp", Type = "tmpfs", Source = "tmpfs", Options = { "nosuid", "nodev" } });

        var (status, stdout, stderr) = await ContainerRun.RunAsync(client, "rootro", spec);

        status.Should().Be(0, stderr + agent.Output);
        stdout.Should().Be("root=1\ntmp=ok\nshm=ok\nro\n");
        stderr.Should().Contain("/newfile").And.Contain("Read-only file system");
        File.Exists(Path.Combine(rootfs.Path, "newfile")).Should().BeFalse();
        File.Exists(Path.Combine(rootfs.Path, "tmp", "ok")).Should().BeFalse("/tmp was a tmpfs, not the rootfs directory");
    }

    [Fact]
    public async Task Default_devices_dev_links_and_spec_devices_have_their_types_numbers_modes_and_owners()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        var spec = ContainerSpecs.Default(rootfs.Path, ["sh", "-c",
            "for d in null zero full random urandom tty mydev myblk myfifo; do stat -c '%n %A %t,%T %u:%g' /dev/$d; done; " +
            "for l in fd stdin stdout stderr; do readlink /dev/$l; done; echo hi > /dev/null && echo null=ok; echo zero=$(head -c 5 /dev/zero | wc -c); " +
            "ls /dev/fd/ | tr '\\n' ' '"]);
        spec.Linux.Devices.Add(new LinuxDevice { Path = "/dev/mydev", Type = "c", Major = 1, Minor = 11, FileMode = Convert.ToUInt32("620", 8), UID = 1000, GID = 5 });
        spec.Linux.Devices.Add(new LinuxDevice { Path = "/dev/myblk", Type = "b", Major = 7, Minor = 200, FileMode = Convert.ToUInt32("600", 8), UID = 0, GID = 6 });
        spec.Linux.Devices.Add(new LinuxDevice { Path = "/dev/myfifo", Type = "p", FileMode = Convert.ToUInt32("640", 8), UID = 12, GID = 34 });

        var (status, stdout, stderr) = await ContainerRun.RunAsync(client, "dev", spec);

        status.Should().Be(0, stderr + agent.Output);
        stdout.Should().StartWith(
            "/dev/null crw-rw-rw- 1,3 0:0\n" +
            "/dev/zero crw-rw-rw- 1,5 0:0\n" +
            "/dev/full crw-rw-rw- 1,7 0:0\n" +
            "/dev/random crw-rw-rw- 1,8 0:0\n" +
            "/dev/urandom crw-rw-rw- 1,9 0:0\n" +
            "/dev/tty crw-rw-rw- 5,0 0:0\n" +
            "/dev/mydev crw--w---- 1,b 1000:5\n" +
            "/dev/myblk brw------- 7,c8 0:6\n" +
            "/dev/myfifo prw-r----- 0,0 12:34\n" +
            "/proc/self/fd\n/proc/self/fd/0\n/proc/self/fd/1\n/proc/self/fd/2\n" +
            "null=ok\nzero=5\n");
        stdout.Should().MatchRegex(@"\n0 1 2 (\d+ )?$", "/dev/fd lists the stdio fds (and ls's own directory fd)");
    }

    [Fact]
    public async Task Host_mount_table_is_unchanged_after_containers_even_when_the_rootfs_is_a_shared_mount()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        using var host = new TempDirectory();
        string source = Directory.CreateDirectory(host.File("source")).FullName;
        string sharedTree = Directory.CreateDirectory(host.File("shared")).FullName;
        // The agent runs in a mount namespace of its own, which stands for the host here (the
        // guest's root namespace in a VM), so the shared mounts below never reach the mount
        // table other tests compare.
        await using var agent = await PrivateMountNamespaceAgent.StartAsync();
        await using var client = await agent.ConnectAsync();
        // Make the rootfs a shared mount: any mount the container makes under it without
        // stopping propagation first would show up on the host. A second shared tree with a
        // child mount catches unmounts propagating back (the old root's detach).
        await agent.InNamespaceAsync("mount", "--bind", rootfs.Path, rootfs.Path);
        await agent.InNamespaceAsync("mount", "--make-shared", rootfs.Path);
        await agent.InNamespaceAsync("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", sharedTree);
        await agent.InNamespaceAsync("mount", "--make-shared", sharedTree);
        await agent.InNamespaceAsync("mkdir", Path.Combine(sharedTree, "child"));
        await agent.InNamespaceAsync("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", Path.Combine(sharedTree, "child"));
        var expected = MountLines(agent.MountInfo(), rootfs.Path, host.Path);
        expected.Should().HaveCount(3);
        expected[0].Should().Contain(" shared:");
        MountLines(File.ReadAllText("/proc/self/mountinfo"), rootfs.Path, host.Path).Should().BeEmpty("the test's own namespace is not touched");

        foreach (string propagation in new[] { "", "rslave", "private", "rprivate", "shared", "rshared" })
        {
            var spec = ContainerSpecs.Default(rootfs.Path, ["sh", "-c", "touch /data/from-container && grep -E '^[0-9]+ [0-9]+ [^ ]+ [^ ]+ / ' /proc/self/mountinfo"]);
            spec.Linux.RootfsPropagation = propagation;
            spec.Mounts.Add(new Mount { Destination = "/data", Type = "bind", Source = source, Options = { "rbind" } });
            spec.Mounts.Add(new Mount { Destination = "/tmp", Type = "tmpfs", Source = "tmpfs" });
            var (status, stdout, stderr) = await ContainerRun.RunAsync(client, $"prop{propagation}", spec);
            status.Should().Be(0, $"rootfsPropagation '{propagation}': {stderr}\n{agent.Output}");
            if (propagation.EndsWith("shared"))
            {
                stdout.Should().Contain(" shared:", "the container's / has the propagation the spec asks for");
            }
            else
            {
                stdout.Should().NotContain(" shared:");
            }
            File.Exists(Path.Combine(source, "from-container")).Should().BeTrue();
            File.Delete(Path.Combine(source, "from-container"));
            MountLines(agent.MountInfo(), rootfs.Path, host.Path)
                .Should().Equal(expected, $"rootfsPropagation '{propagation}' must neither add nor remove mounts on the host");
        }
    }

    /// <summary>The mountinfo lines whose mount point is under one of <paramref name="roots"/> (other tests may mount elsewhere concurrently).</summary>
    private static List<string> MountLines(string mountinfo, params string[] roots) =>
        mountinfo.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(line => line.Split(' ')[4] is string point && roots.Any(root => point == root || point.StartsWith(root + "/", StringComparison.Ordinal)))
            .ToList();

    /// <summary>The filesystem type /proc/mounts shows for a bind mount of <paramref name="path"/>.</summary>
    private static string MountTypeOf(string path)
    {
        string best = "";
        string type = "";
        foreach (string line in File.ReadAllLines("/proc/self/mounts"))
        {
            string[] fields = line.Split(' ');
            if ((path == fields[1] || path.StartsWith(fields[1].TrimEnd('/') + "/", StringComparison.Ordinal)) && fields[1].Length >= best.Length)
            {
                best = fields[1];
                type = fields[2];
            }
        }
        return type;
    }
}

/// <summary>out/kata-agent started through `unshare --mount --propagation private`: a stand-alone agent whose mount namespace the test may change freely.</summary>
internal sealed class PrivateMountNamespaceAgent : IAsyncDisposable
{
    private readonly TempDirectory _directory = new();
    private readonly CancellationTokenSource _kill = new();
    private readonly System.Text.StringBuilder _output = new();
    private CliWrap.CommandTask<CliWrap.CommandResult>? _task;

    public string Address => $"unix://{_directory.File("agent.sock")}";

    public int ProcessId => _task!.ProcessId;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static Task<PrivateMountNamespaceAgent> StartAsync()
    {
        var agent = new PrivateMountNamespaceAgent();
        void Append(string line)
        {
            lock (agent._output)
            {
                agent._output.AppendLine(line);
            }
        }
        agent._task = CliWrap.Cli.Wrap("unshare")
            .WithArguments(["--mount", "--propagation", "private", RepoPaths.AgentBinary, "--server-addr", agent.Address, "--log", "debug"])
            .WithStandardOutputPipe(CliWrap.PipeTarget.ToDelegate(Append))
            .WithStandardErrorPipe(CliWrap.PipeTarget.ToDelegate(Append))
            .WithValidation(CliWrap.CommandResultValidation.None)
            .ExecuteAsync(agent._kill.Token);
        return Task.FromResult(agent);
    }

    public async Task<KataAgent.Host.AgentClient> ConnectAsync() =>
        await KataAgent.Host.AgentClient.ConnectAsync(Address, new KataAgent.Host.AgentClientOptions { ConnectTimeout = TimeSpan.FromSeconds(20) });

    /// <summary>The agent's mount table: the "host" of its containers.</summary>
    public string MountInfo() => File.ReadAllText($"/proc/{ProcessId}/mountinfo");

    /// <summary>Runs a command in the agent's mount namespace; throws on failure.</summary>
    public async Task InNamespaceAsync(string program, params string[] arguments)
    {
        var result = await CliWrap.Buffered.BufferedCommandExtensions.ExecuteBufferedAsync(
            CliWrap.Cli.Wrap("nsenter").WithArguments(["-t", ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture), "-m", program, .. arguments]).WithValidation(CliWrap.CommandResultValidation.None));
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} in the agent's mount namespace: {result.StandardError}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_task is not null && !_task.Task.IsCompleted)
        {
            _kill.Cancel();
            try
            {
                await _task.Task.WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (OperationCanceledException)
            {
            }
        }
        _kill.Dispose();
        _directory.Dispose();
    }
}
