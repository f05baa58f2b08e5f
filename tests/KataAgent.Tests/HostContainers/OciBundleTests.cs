using FluentAssertions;
using KataAgent.Host.Containers;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.HostContainers;

/// <summary>OciBundle: OCI runtime-spec config.json (lowerCamelCase) into Kata's protobuf Spec (PascalCase).</summary>
public class OciBundleTests
{
    [Fact]
    public void A_crun_spec_config_maps_onto_the_Spec_fields()
    {
        using var directory = new TempDirectory();
        File.WriteAllText(directory.File("config.json"), CrunSpecJson.Template);

        var bundle = OciBundle.Load(directory.Path);
        var spec = bundle.Spec;

        bundle.Directory.Should().Be(directory.Path);
        bundle.ConfigPath.Should().Be(directory.File("config.json"));
        spec.Version.Should().Be("1.0.0");
        spec.Hostname.Should().Be("crun");
        spec.Root.Path.Should().Be(directory.File("rootfs"), "a relative root.path resolves against the bundle directory");
        spec.Root.Readonly.Should().BeTrue();

        var process = spec.Process;
        process.Terminal.Should().BeTrue();
        process.Args.Should().Equal("/bin/sh");
        process.Env.Should().Equal("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm");
        process.Cwd.Should().Be("/");
        process.User.UID.Should().Be(0);
        process.User.GID.Should().Be(0);
        process.NoNewPrivileges.Should().BeTrue();
        process.Capabilities.Bounding.Should().Equal("CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE");
        process.Capabilities.Effective.Should().Equal(process.Capabilities.Bounding);
        process.Capabilities.Permitted.Should().Equal(process.Capabilities.Bounding);
        process.Capabilities.Ambient.Should().Equal(process.Capabilities.Bounding);
        process.Capabilities.Inheritable.Should().BeEmpty();
        process.Rlimits.Should().ContainSingle().Which.Should().BeEquivalentTo(new { Type = "RLIMIT_NOFILE", Hard = 1024UL, Soft = 1024UL });

        spec.Mounts.Select(m => m.Destination).Should().Equal("/proc", "/dev", "/sys", "/dev/pts", "/dev/mqueue", "/sys/fs/cgroup");
        spec.Mounts[1].Type.Should().Be("tmpfs");
        spec.Mounts[1].Source.Should().Be("tmpfs");
        spec.Mounts[1].Options.Should().Equal("nosuid", "strictatime", "mode=755", "size=65536k");
        spec.Mounts[0].Options.Should().BeEmpty();

        spec.Linux.Namespaces.Select(n => n.Type).Should().Equal("pid", "network", "ipc", "uts", "cgroup", "mount");
        spec.Linux.Namespaces.Should().OnlyContain(n => n.Path == "");
        spec.Linux.MaskedPaths.Should().HaveCount(10).And.Contain("/proc/kcore").And.Contain("/sys/firmware");
        spec.Linux.ReadonlyPaths.Should().Equal("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger");
        var deny = spec.Linux.Resources.Devices.Should().ContainSingle().Subject;
        deny.Allow.Should().BeFalse();
        deny.Access.Should().Be("rwm");
        deny.Major.Should().Be(-1, "a rule without major/minor is a wildcard");
        deny.Minor.Should().Be(-1);
        spec.Linux.Resources.Memory.Should().BeNull("absent objects stay absent");
        spec.Linux.Seccomp.Should().BeNull();
        spec.Hooks.Should().BeNull();
    }

    [Fact]
    public void Every_supported_field_is_mapped_and_unsupported_ones_are_ignored()
    {
        const string json = """
            {
              "ociVersion": "1.2.0",
              "domainname": "ignored.example",
              "vm": { "hypervisor": { "path": "/ignored" } },
              "process": {
                "terminal": false,
                "consoleSize": { "height": 40, "width": 120 },
                "user": { "uid": 1000, "gid": 100, "umask": 18, "additionalGids": [5, 6], "username": "app" },
                "args": ["/app", "--flag"],
                "cwd": "/srv",
                "apparmorProfile": "docker-default",
                "selinuxLabel": "system_u:system_r:container_t:s0",
                "oomScoreAdj": -500,
                "scheduler": { "policy": "SCHED_OTHER" },
                "ioPriority": { "class": "IOPRIO_CLASS_BE", "priority": 4 }
              },
              "root": { "path": "/var/lib/containers/app/rootfs" },
              "annotations": { "io.kubernetes.cri.container-type": "container" },
              "hooks": {
                "prestart": [ { "path": "/bin/hook", "args": ["hook", "pre"], "env": ["A=1"], "timeout": 5 } ],
                "poststop": [ { "path": "/bin/cleanup" } ]
              },
              "mounts": [ { "destination": "/data", "type": "bind", "source": "/srv/data", "options": ["rbind", "ro"], "uidMappings": [] } ],
              "linux": {
                "uidMappings": [ { "containerID": 0, "hostID": 100000, "size": 65536 } ],
                "gidMappings": [ { "containerID": 0, "hostID": 200000, "size": 1000 } ],
                "sysctl": { "net.ipv4.ip_forward": "1" },
                "cgroupsPath": "/kata/app",
                "rootfsPropagation": "rslave",
                "mountLabel": "system_u:object_r:container_file_t:s0",
                "personality": { "domain": "LINUX" },
                "intelRdt": { "l3CacheSchema": "L3:0=ff" },
                "namespaces": [ { "type": "network", "path": "/proc/1/ns/net" } ],
                "devices": [ { "type": "c", "path": "/dev/fuse", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0 } ],
                "resources": {
                  "devices": [ { "allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw" } ],
                  "memory": { "limit": 536870912, "reservation": 268435456, "swap": 1073741824, "kernelTCP": 1024, "swappiness": 10, "disableOOMKiller": true, "checkBeforeUpdate": true },
                  "cpu": { "shares": 512, "quota": 50000, "period": 100000, "realtimeRuntime": 950, "realtimePeriod": 1000, "cpus": "0-1", "mems": "0", "idle": 1 },
                  "pids": { "limit": 64 },
                  "blockIO": {
                    "weight": 300, "leafWeight": 20,
                    "weightDevice": [ { "major": 8, "minor": 0, "weight": 500, "leafWeight": 300 } ],
                    "throttleReadBpsDevice": [ { "major": 8, "minor": 0, "rate": 600 } ],
                    "throttleWriteIOPSDevice": [ { "major": 8, "minor": 16, "rate": 300 } ]
                  },
                  "hugepageLimits": [ { "pageSize": "2MB", "limit": 209715200 } ],
                  "network": { "classID": 1048577, "priorities": [ { "name": "eth0", "priority": 500 } ] },
                  "unified": { "memory.high": "400M" },
                  "rdma": { "mlx5_1": { "hcaHandles": 3 } }
                },
                "seccomp": {
                  "defaultAction": "SCMP_ACT_ERRNO",
                  "defaultErrnoRet": 1,
                  "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
                  "flags": ["SECCOMP_FILTER_FLAG_LOG"],
                  "listenerPath": "/run/ignored.sock",
                  "syscalls": [
                    { "names": ["read", "write"], "action": "SCMP_ACT_ALLOW" },
                    { "names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
                      "args": [ { "index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ" } ] }
                  ]
                }
              }
            }
            """;

        var spec = OciBundle.ParseConfig(json, "/bundles/app");

        spec.Version.Should().Be("1.2.0");
        spec.Root.Path.Should().Be("/var/lib/containers/app/rootfs");
        spec.Root.Readonly.Should().BeFalse();
        spec.Annotations.Should().ContainKey("io.kubernetes.cri.container-type").WhoseValue.Should().Be("container");

        var process = spec.Process;
        process.Terminal.Should().BeFalse();
        process.ConsoleSize.Height.Should().Be(40);
        process.ConsoleSize.Width.Should().Be(120);
        process.User.UID.Should().Be(1000);
        process.User.GID.Should().Be(100);
        process.User.AdditionalGids.Should().Equal(5u, 6u);
        process.User.Username.Should().Be("app");
        process.Args.Should().Equal("/app", "--flag");
        process.Env.Should().BeEmpty();
        process.Cwd.Should().Be("/srv");
        process.ApparmorProfile.Should().Be("docker-default");
        process.SelinuxLabel.Should().Be("system_u:system_r:container_t:s0");
        process.OOMScoreAdj.Should().Be(-500);
        process.Capabilities.Should().BeNull();

        spec.Hooks.Prestart.Should().ContainSingle();
        spec.Hooks.Prestart[0].Path.Should().Be("/bin/hook");
        spec.Hooks.Prestart[0].Args.Should().Equal("hook", "pre");
        spec.Hooks.Prestart[0].Env.Should().Equal("A=1");
        spec.Hooks.Prestart[0].Timeout.Should().Be(5);
        spec.Hooks.Poststop.Should().ContainSingle().Which.Path.Should().Be("/bin/cleanup");
        spec.Hooks.Poststart.Should().BeEmpty();

        spec.Mounts.Should().ContainSingle();
        spec.Mounts[0].Type.Should().Be("bind");
        spec.Mounts[0].Source.Should().Be("/srv/data");
        spec.Mounts[0].Options.Should().Equal("rbind", "ro");

        var linux = spec.Linux;
        linux.UIDMappings.Should().ContainSingle().Which.Should().BeEquivalentTo(new { ContainerID = 0u, HostID = 100000u, Size = 65536u });
        linux.GIDMappings.Should().ContainSingle().Which.HostID.Should().Be(200000);
        linux.Sysctl.Should().ContainKey("net.ipv4.ip_forward").WhoseValue.Should().Be("1");
        linux.CgroupsPath.Should().Be("/kata/app");
        linux.RootfsPropagation.Should().Be("rslave");
        linux.MountLabel.Should().Be("system_u:object_r:container_file_t:s0");
        linux.IntelRdt.L3CacheSchema.Should().Be("L3:0=ff");
        linux.Namespaces.Should().ContainSingle().Which.Should().BeEquivalentTo(new { Type = "network", Path = "/proc/1/ns/net" });
        linux.Devices.Should().ContainSingle().Which.Should().BeEquivalentTo(new { Type = "c", Path = "/dev/fuse", Major = 10L, Minor = 229L, FileMode = 438u, UID = 0u, GID = 0u });

        var resources = linux.Resources;
        resources.Devices.Should().ContainSingle().Which.Should().BeEquivalentTo(new { Allow = true, Type = "c", Major = 10L, Minor = 229L, Access = "rw" });
        resources.Memory.Should().BeEquivalentTo(new { Limit = 536870912L, Reservation = 268435456L, Swap = 1073741824L, Kernel = 0L, KernelTCP = 1024L, Swappiness = 10UL, DisableOOMKiller = true });
        resources.CPU.Should().BeEquivalentTo(new { Shares = 512UL, Quota = 50000L, Period = 100000UL, RealtimeRuntime = 950L, RealtimePeriod = 1000UL, Cpus = "0-1", Mems = "0" });
        resources.Pids.Limit.Should().Be(64);
        resources.BlockIO.Weight.Should().Be(300);
        resources.BlockIO.LeafWeight.Should().Be(20);
        resources.BlockIO.WeightDevice.Should().ContainSingle().Which.Should().BeEquivalentTo(new { Major = 8L, Minor = 0L, Weight = 500u, LeafWeight = 300u });
        resources.BlockIO.ThrottleReadBpsDevice.Should().ContainSingle().Which.Rate.Should().Be(600);
        resources.BlockIO.ThrottleWriteIOPSDevice.Should().ContainSingle().Which.Should().BeEquivalentTo(new { Major = 8L, Minor = 16L, Rate = 300UL });
        resources.BlockIO.ThrottleWriteBpsDevice.Should().BeEmpty();
        resources.HugepageLimits.Should().ContainSingle().Which.Should().BeEquivalentTo(new { Pagesize = "2MB", Limit = 209715200UL });
        resources.Network.ClassID.Should().Be(1048577);
        resources.Network.Priorities.Should().ContainSingle().Which.Should().BeEquivalentTo(new { Name = "eth0", Priority = 500u });

        var seccomp = linux.Seccomp;
        seccomp.DefaultAction.Should().Be("SCMP_ACT_ERRNO");
        seccomp.Architectures.Should().Equal("SCMP_ARCH_X86_64", "SCMP_ARCH_X86");
        seccomp.Flags.Should().Equal("SECCOMP_FILTER_FLAG_LOG");
        seccomp.Syscalls.Should().HaveCount(2);
        seccomp.Syscalls[0].Names.Should().Equal("read", "write");
        seccomp.Syscalls[0].HasErrnoret.Should().BeFalse("an absent errnoRet stays unset, not 0");
        seccomp.Syscalls[1].Action.Should().Be("SCMP_ACT_ERRNO");
        seccomp.Syscalls[1].Errnoret.Should().Be(38);
        seccomp.Syscalls[1].Args.Should().ContainSingle().Which.Should().BeEquivalentTo(new { Index = 0UL, Value = 8UL, ValueTwo = 0UL, Op = "SCMP_CMP_EQ" });
    }

    [Theory]
    [InlineData("rootfs", "/bundles/app/rootfs")]
    [InlineData("./rootfs/", "/bundles/app/rootfs/")]
    [InlineData("../shared/rootfs", "/bundles/shared/rootfs")]
    [InlineData("/abs/rootfs", "/abs/rootfs")]
    public void Root_path_is_always_absolute(string rootPath, string expected)
    {
        var spec = OciBundle.ParseConfig($$$"""{"root":{"path":"{{{rootPath}}}"},"process":{"args":["true"]}}""", "/bundles/app");

        spec.Root.Path.Should().Be(expected);
        Path.IsPathRooted(spec.Root.Path).Should().BeTrue();
    }

    [Fact]
    public void Comments_trailing_commas_and_case_differences_are_tolerated()
    {
        var spec = OciBundle.ParseConfig("""
            {
              // written by hand
              "Process": { "Args": ["sh",], "Terminal": true, },
              "root": { "path": "/r" },
            }
            """, "/b");

        spec.Process.Args.Should().Equal("sh");
        spec.Process.Terminal.Should().BeTrue();
    }

    [Fact]
    public void A_byte_order_mark_is_skipped()
    {
        byte[] json = [0xEF, 0xBB, 0xBF, .. System.Text.Encoding.UTF8.GetBytes("""{"root":{"path":"/r"},"process":{"args":["true"]}}""")];

        OciBundle.ParseConfig(json, "/b").Process.Args.Should().Equal("true");
    }

    [Fact]
    public void Malformed_json_names_the_file_the_path_and_the_line()
    {
        using var directory = new TempDirectory();
        string config = directory.File("config.json");
        File.WriteAllText(config, "{\n  \"process\": {\n    \"args\": [\"sh\"]\n    \"cwd\": \"/\"\n  }\n}\n");

        var load = () => OciBundle.Load(directory.Path);

        var error = load.Should().Throw<OciBundleException>().Which;
        error.ConfigPath.Should().Be(config);
        error.JsonPath.Should().StartWith("$.process");
        error.LineNumber.Should().Be(4);
        error.Message.Should().StartWith($"{config}: $.process").And.Contain("(line 4)");
        error.InnerException.Should().BeAssignableTo<System.Text.Json.JsonException>();
    }

    [Theory]
    [InlineData("""{"root":{"path":"/r"},"process":{"user":{"uid":"root"}}}""", "$.process.user.uid")]
    [InlineData("""{"root":{"path":"/r"},"process":{"args":"sh -c true"}}""", "$.process.args")]
    [InlineData("""{"root":{"path":"/r"},"linux":{"resources":{"memory":{"limit":"1G"}}}}""", "$.linux.resources.memory.limit")]
    [InlineData("""{"root":{"path":"/r"},"linux":{"namespaces":[{"type":"pid"},{"type":7}]}}""", "$.linux.namespaces[1].type")]
    [InlineData("""{"root":{"path":"/r"},"process":{"args":["sh",null]}}""", "$.process.args[1]")]
    [InlineData("""{"root":{"path":"/r"},"mounts":[null]}""", "$.mounts[0]")]
    [InlineData("""{"root":{"path":"/r"},"annotations":{"a":null}}""", "$.annotations.a")]
    [InlineData("""{"process":{"args":["sh"]}}""", "$.root")]
    [InlineData("""{"root":{"readonly":true}}""", "$.root.path")]
    [InlineData("""[]""", "$")]
    [InlineData("""null""", "$")]
    public void A_value_of_the_wrong_shape_is_reported_with_its_json_path(string json, string path)
    {
        var parse = () => OciBundle.ParseConfig(json, "/b", "/b/config.json");

        var error = parse.Should().Throw<OciBundleException>().Which;
        error.JsonPath.Should().Be(path);
        error.Message.Should().StartWith($"/b/config.json: {path}");
    }

    [Fact]
    public void A_missing_directory_or_config_json_is_named()
    {
        using var directory = new TempDirectory();

        var noConfig = () => OciBundle.Load(directory.Path);
        noConfig.Should().Throw<OciBundleException>().Which.Message.Should().Contain(directory.File("config.json")).And.Contain("not found");

        var noDirectory = () => OciBundle.Load(directory.File("missing"));
        noDirectory.Should().Throw<OciBundleException>().Which.Message.Should().Contain(directory.File("missing")).And.Contain("does not exist");
    }

    [Fact]
    public async Task LoadAsync_gives_the_same_spec_as_Load()
    {
        using var directory = new TempDirectory();
        File.WriteAllText(directory.File("config.json"), CrunSpecJson.With("rootfs", false, "echo", "hi"));

        var bundle = await OciBundle.LoadAsync(directory.Path);

        bundle.Spec.Should().Be(OciBundle.Load(directory.Path).Spec);
        bundle.Spec.Process.Args.Should().Equal("echo", "hi");
        bundle.Spec.Process.Terminal.Should().BeFalse();
        bundle.Spec.Process.Capabilities.Ambient.Should().BeEmpty();
    }
}
