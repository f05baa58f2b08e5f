using System.Text;
using FluentAssertions;
using KataAgent.Host.Containers;
using Xunit;

namespace KataAgent.Tests.HostContainers;

/// <summary>
/// <see cref="OciBundle.ParseProcess"/> and <see cref="OciBundle.ParseResources"/>: the OCI JSON fragments containerd
/// sends a shim (Exec.spec, Update.resources), in the shapes containerd 1.6 marshals them, into Kata's messages.
/// </summary>
public class OciFragmentTests
{
    /// <summary>A CRI ExecSync's Exec.spec: the container's process with the exec's args (Go's encoding/json, omitempty).</summary>
    private const string CriExecProcess = """
        {"user":{"uid":0,"gid":0,"additionalGids":[0,1,2,3,4,6,10,11,20,26,27]},"args":["sh","-c","echo hi"],
        "env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","HOSTNAME=web"],"cwd":"/",
        "capabilities":{"bounding":["CAP_CHOWN","CAP_KILL"],"effective":["CAP_CHOWN","CAP_KILL"],"permitted":["CAP_CHOWN","CAP_KILL"]},
        "noNewPrivileges":false,"apparmorProfile":"cri-containerd.apparmor.d","oomScoreAdj":1000}
        """;

    /// <summary>ctr task exec -t: a terminal and a console size, rlimits from ctr's default spec.</summary>
    private const string CtrExecTerminalProcess = """
        {"terminal":true,"consoleSize":{"height":40,"width":120},"user":{"uid":1000,"gid":1000,"umask":18},"args":["/bin/sh"],
        "env":["PATH=/bin","TERM=xterm"],"cwd":"/work","rlimits":[{"type":"RLIMIT_NOFILE","hard":1024,"soft":1024}],"noNewPrivileges":true}
        """;

    /// <summary>CRI UpdateContainerResources: the container's whole linux.resources, cgroup v2 (swap = limit, unified).</summary>
    private const string CriUpdateResources = """
        {"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"}],
        "memory":{"limit":268435456,"swap":268435456},"cpu":{"shares":512,"quota":150000,"period":100000,"cpus":"0-1","mems":"0"},
        "pids":{"limit":0},"hugepageLimits":[{"pageSize":"2MB","limit":0}],"unified":{"memory.oom.group":"1"}}
        """;

    [Fact]
    public void A_cri_exec_spec_becomes_a_kata_process()
    {
        var process = OciBundle.ParseProcess(Encoding.UTF8.GetBytes(CriExecProcess));

        process.Args.Should().Equal("sh", "-c", "echo hi");
        process.Env.Should().Equal("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=web");
        process.Cwd.Should().Be("/");
        process.User.UID.Should().Be(0);
        process.User.AdditionalGids.Should().Equal(0u, 1u, 2u, 3u, 4u, 6u, 10u, 11u, 20u, 26u, 27u);
        process.Capabilities.Bounding.Should().Equal("CAP_CHOWN", "CAP_KILL");
        process.Capabilities.Inheritable.Should().BeEmpty();
        process.ApparmorProfile.Should().Be("cri-containerd.apparmor.d");
        process.OOMScoreAdj.Should().Be(1000);
        process.Terminal.Should().BeFalse();
    }

    [Fact]
    public void A_ctr_exec_with_a_terminal_keeps_its_size_user_and_rlimits()
    {
        var process = OciBundle.ParseProcess(Encoding.UTF8.GetBytes(CtrExecTerminalProcess));

        process.Terminal.Should().BeTrue();
        process.ConsoleSize.Height.Should().Be(40);
        process.ConsoleSize.Width.Should().Be(120);
        process.User.UID.Should().Be(1000);
        process.User.GID.Should().Be(1000);
        process.Cwd.Should().Be("/work");
        process.Rlimits.Should().ContainSingle().Which.Type.Should().Be("RLIMIT_NOFILE");
        process.NoNewPrivileges.Should().BeTrue();
    }

    [Fact]
    public void A_cri_update_becomes_kata_linux_resources()
    {
        var resources = OciBundle.ParseResources(Encoding.UTF8.GetBytes(CriUpdateResources));

        resources.Memory.Limit.Should().Be(268435456);
        resources.Memory.Swap.Should().Be(268435456);
        resources.CPU.Shares.Should().Be(512);
        resources.CPU.Quota.Should().Be(150000);
        resources.CPU.Period.Should().Be(100000);
        resources.CPU.Cpus.Should().Be("0-1");
        resources.CPU.Mems.Should().Be("0");
        resources.Pids.Limit.Should().Be(0);
        resources.Devices.Should().HaveCount(2);
        resources.Devices[0].Allow.Should().BeFalse();
        resources.Devices[0].Major.Should().Be(-1, "a rule without major is a wildcard");
        resources.Devices[1].Major.Should().Be(1);
        resources.Devices[1].Minor.Should().Be(3);
        resources.HugepageLimits.Should().ContainSingle().Which.Pagesize.Should().Be("2MB");
    }

    [Fact]
    public void A_ctr_update_with_only_some_fields_leaves_the_others_unset()
    {
        var resources = OciBundle.ParseResources("""{"memory":{"limit":-1},"cpu":{"quota":-1,"period":100000}}"""u8);

        resources.Memory.Limit.Should().Be(-1);
        resources.CPU.Quota.Should().Be(-1);
        resources.CPU.Period.Should().Be(100000);
        resources.Pids.Should().BeNull();
        resources.BlockIO.Should().BeNull();
        resources.Devices.Should().BeEmpty();
    }

    [Fact]
    public void A_byte_order_mark_and_an_empty_object_are_accepted()
    {
        OciBundle.ParseProcess("\uFEFF{}"u8).Args.Should().BeEmpty();
        OciBundle.ParseResources("{}"u8).Memory.Should().BeNull();
    }

    [Theory]
    [InlineData("""{"args":["sh",null]}""", "$.args[1]")]
    [InlineData("""{"args":"sh -c true"}""", "$.args")]
    [InlineData("""{"user":{"uid":"root"}}""", "$.user.uid")]
    [InlineData("""{"rlimits":[null]}""", "$.rlimits[0]")]
    [InlineData("""{"capabilities":{"bounding":[null]}}""", "$.capabilities.bounding[0]")]
    [InlineData("""[]""", "$")]
    [InlineData("""null""", "$")]
    public void A_process_of_the_wrong_shape_names_the_json_path_and_the_source(string json, string path)
    {
        var parse = () => OciBundle.ParseProcess(Encoding.UTF8.GetBytes(json), "exec spec");

        var error = parse.Should().Throw<OciBundleException>().Which;
        error.JsonPath.Should().Be(path);
        error.Message.Should().StartWith($"exec spec: {path}");
    }

    [Theory]
    [InlineData("""{"memory":{"limit":"1G"}}""", "$.memory.limit")]
    [InlineData("""{"cpu":{"shares":-2}}""", "$.cpu.shares")]
    [InlineData("""{"cpu":{"quota":1.5}}""", "$.cpu.quota")]
    [InlineData("""{"devices":[null]}""", "$.devices[0]")]
    [InlineData("""{"blockIO":{"throttleReadBpsDevice":[null]}}""", "$.blockIO.throttleReadBpsDevice[0]")]
    [InlineData("""null""", "$")]
    public void Resources_of_the_wrong_shape_name_the_json_path(string json, string path)
    {
        var parse = () => OciBundle.ParseResources(Encoding.UTF8.GetBytes(json));

        var error = parse.Should().Throw<OciBundleException>().Which;
        error.JsonPath.Should().Be(path);
        error.Message.Should().StartWith($"resources JSON: {path}");
    }

    [Fact]
    public void Malformed_json_names_the_line()
    {
        var parse = () => OciBundle.ParseResources("{\n  \"memory\": {\"limit\": 1}\n  \"cpu\": {}\n}"u8);

        var error = parse.Should().Throw<OciBundleException>().Which;
        error.LineNumber.Should().Be(3);
        error.Message.Should().Contain("(line 3)");
    }
}
