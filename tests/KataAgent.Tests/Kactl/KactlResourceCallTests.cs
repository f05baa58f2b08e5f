using System.Text.Json;
using FluentAssertions;
using Xunit;

namespace KataAgent.Tests.Kactl;

/// <summary><c>kactl call</c> reaches the hot-plug, swap and volume RPCs by name, and shows the agent's refusals.</summary>
public sealed class KactlResourceCallTests(KactlAgentFixture fixture) : IClassFixture<KactlAgentFixture>
{
    private const int RpcFailed = 1;

    private Task<CliWrap.Buffered.BufferedCommandResult> Kactl(params string[] arguments) =>
        KactlRunner.RunAsync(["--addr", fixture.Address, .. arguments]);

    [Fact]
    public async Task OnlineCPUMem_with_nothing_to_do_answers_an_empty_message()
    {
        var result = await Kactl("call", "OnlineCPUMem", "--json", """{"nbCpus":1,"cpuOnly":true,"wait":true}""");

        result.ExitCode.Should().Be(0, KactlRunner.Describe(result));
        JsonDocument.Parse(result.StandardOutput).RootElement.EnumerateObject().Should().BeEmpty();
    }

    [Theory]
    [InlineData("GetVolumeStats", """{"volumeGuestPath":"/etc"}""", "InvalidArgument (3): volume_guest_path: '/etc' is not below /run/kata-containers/")]
    [InlineData("ResizeVolume", """{"volumeGuestPath":"/run/kata-containers/../etc","size":"1048576"}""", "InvalidArgument (3): volume_guest_path: ")]
    [InlineData("AddSwapPath", """{"path":"/etc/passwd"}""", "InvalidArgument (3): path: ")]
    [InlineData("AddSwap", """{"PCIPath":[99]}""", "InvalidArgument (3): PCIPath[0]: 99 is not a PCI slot")]
    [InlineData("UpdateEphemeralMounts", """{"storages":[{"driver":"blk","mountPoint":"/run/kata-containers/x"}]}""", "InvalidArgument (3): storages[0].driver: ")]
    [InlineData("MemHotplugByProbe", """{}""", "InvalidArgument (3): memHotplugProbeAddr: is empty")]
    public async Task Refusals_come_back_with_the_status_and_the_field(string rpc, string json, string detail)
    {
        var result = await Kactl("call", rpc, "--json", json);

        result.ExitCode.Should().Be(RpcFailed, KactlRunner.Describe(result));
        result.StandardError.Should().StartWith($"kactl: {rpc} failed: {detail}");
    }
}
