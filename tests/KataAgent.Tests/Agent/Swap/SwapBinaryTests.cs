using FluentAssertions;
using KataAgent.Agent.Guest.Swap;
using KataAgent.Host;
using KataAgent.Tests.Infrastructure;
using KataAgent.Tests.StorageDrivers;
using Xunit;

namespace KataAgent.Tests.Agent.Swap;

/// <summary>
/// AddSwap and AddSwapPath through the published agent, on loop devices and files this test makes.
/// Everything swapon'd here is swapoff'd again; the host's own swap is never touched.
/// </summary>
[Collection(HostMountTableCollection.Name)]
public class SwapBinaryTests
{
    [Fact]
    public async Task A_blank_swap_file_gets_a_header_from_the_agent_and_is_swapped_on()
    {
        await using var volume = await LoopMount.CreateExt4Async(imageMiB: 48, filesystemMiB: 48, "swap-file");
        string file = Path.Combine(volume.MountPoint!, "swap0");
        await File.WriteAllBytesAsync(file, new byte[16 * 1024 * 1024]);
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();

        try
        {
            await client.AddSwapByPathAsync(file);

            ActiveSwaps().Should().Contain(file);
            byte[] firstPage = new byte[Environment.SystemPageSize];
            await using (var stream = File.OpenRead(file))
            {
                await stream.ReadExactlyAsync(firstPage);
            }
            SwapHeader.HasSignature(firstPage).Should().BeTrue();
            SwapHeader.LastPage(firstPage).Should().Be((uint)(16 * 1024 * 1024 / Environment.SystemPageSize - 1));

            var again = async () => await client.AddSwapByPathAsync(file);
            var error = (await again.Should().ThrowAsync<AgentStatusException>()).Which;
            error.StatusCode.Should().Be(AgentStatusCode.FailedPrecondition);
            error.Detail.Should().StartWith("path: ").And.Contain("already in use as swap");
        }
        finally
        {
            SwapOff(file);
        }
        ActiveSwaps().Should().NotContain(file);
    }

    [Fact]
    public async Task Files_it_must_not_use_are_refused_naming_path_and_left_as_they_are()
    {
        await using var volume = await LoopMount.CreateExt4Async(imageMiB: 32, filesystemMiB: 32, "swap-refused");
        string data = Path.Combine(volume.MountPoint!, "data");
        byte[] content = Enumerable.Range(0, 1024 * 1024).Select(i => (byte)(i * 7)).ToArray();
        await File.WriteAllBytesAsync(data, content);
        string sparse = Path.Combine(volume.MountPoint!, "sparse");
        await using (var stream = File.Create(sparse))
        {
            stream.SetLength(8 * 1024 * 1024);
        }
        string small = Path.Combine(volume.MountPoint!, "small");
        await File.WriteAllBytesAsync(small, new byte[4 * Environment.SystemPageSize]);
        string link = Path.Combine(volume.MountPoint!, "link");
        File.CreateSymbolicLink(link, data);
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();

        await Refused(client, data, AgentStatusCode.FailedPrecondition, "not a swap area");
        (await File.ReadAllBytesAsync(data)).Should().Equal(content, "a file holding data is never overwritten");
        await Refused(client, sparse, AgentStatusCode.FailedPrecondition, "hole");
        await Refused(client, small, AgentStatusCode.FailedPrecondition, "at least 10 pages");
        await Refused(client, link, AgentStatusCode.InvalidArgument, "symlink");
        await Refused(client, Path.Combine(volume.MountPoint!, "missing"), AgentStatusCode.NotFound, "does not exist");
        await Refused(client, volume.MountPoint + "/../../../etc/passwd", AgentStatusCode.InvalidArgument, "not normalised");
        await Refused(client, "/etc/passwd", AgentStatusCode.InvalidArgument, "neither a block device");
        await Refused(client, "swapfile", AgentStatusCode.InvalidArgument, "not an absolute path");
        await Refused(client, "/dev/null", AgentStatusCode.InvalidArgument, "not a block device");
        await Refused(client, "", AgentStatusCode.InvalidArgument, "is empty");
        ActiveSwaps().Should().NotContain(p => p.StartsWith(volume.MountPoint!, StringComparison.Ordinal));
    }

    [Fact]
    public async Task AddSwap_finds_the_disk_by_pci_path_writes_the_header_and_swaps_on_it_and_a_mounted_disk_is_in_use()
    {
        await using var blank = await LoopMount.CreateBlankAsync(imageMiB: 16);
        await using var mounted = await LoopMount.CreateExt4Async(imageMiB: 16, filesystemMiB: 16, "swap-mounted");
        using var sysfs = new FakeSysfs();
        string port = sysfs.AddBridge(sysfs.RootBus, "0000:00", 0x10, secondaryBus: 1);
        sysfs.AddVirtioBlock(port, "0000:01", 0, blank.Name, blank.Major, blank.Minor);
        string port2 = sysfs.AddBridge(sysfs.RootBus, "0000:00", 0x11, secondaryBus: 2);
        sysfs.AddVirtioBlock(port2, "0000:02", 0, mounted.Name, mounted.Major, mounted.Minor);
        await using var agent = AgentProcess.StartOnUnixSocket(new Dictionary<string, string?> { ["KATA_AGENT_SYSFS_ROOT"] = sysfs.Root });
        await using var client = await agent.ConnectAsync();

        try
        {
            await client.AddSwapDeviceAsync("10/00");
            ActiveSwaps().Should().Contain(blank.DevicePath);

            var busy = async () => await client.AddSwapDeviceAsync("11/00");
            var error = (await busy.Should().ThrowAsync<AgentStatusException>()).Which;
            error.StatusCode.Should().Be(AgentStatusCode.FailedPrecondition);
            error.Detail.Should().StartWith("PCIPath: ").And.Contain(mounted.DevicePath).And.Contain("in use");
            Directory.Exists(Path.Combine(mounted.MountPoint!, "lost+found")).Should().BeTrue("the mounted filesystem is untouched");
            ActiveSwaps().Should().NotContain(mounted.DevicePath);
        }
        finally
        {
            SwapOff(blank.DevicePath);
        }
    }

    [Fact]
    public async Task A_bad_pci_path_is_invalid_argument_and_a_disk_that_never_comes_is_deadline_exceeded()
    {
        using var sysfs = new FakeSysfs();
        await using var agent = AgentProcess.StartOnUnixSocket(new Dictionary<string, string?> { ["KATA_AGENT_SYSFS_ROOT"] = sysfs.Root });
        await using var client = await agent.ConnectAsync();

        var empty = async () => await client.AddSwapAsync(new KataAgent.Protocols.Agent.AddSwapRequest());
        (await empty.Should().ThrowAsync<AgentStatusException>()).Which.Detail.Should().StartWith("PCIPath: is empty");

        var request = new KataAgent.Protocols.Agent.AddSwapRequest();
        request.PCIPath.Add(0x10);
        request.PCIPath.Add(40);
        var slot = async () => await client.AddSwapAsync(request);
        var error = (await slot.Should().ThrowAsync<AgentStatusException>()).Which;
        error.StatusCode.Should().Be(AgentStatusCode.InvalidArgument);
        error.Detail.Should().StartWith("PCIPath[1]: 40 is not a PCI slot");

        var never = async () => await client.AddSwapDeviceAsync("1a/00");
        var timeout = (await never.Should().ThrowAsync<AgentStatusException>()).Which;
        timeout.StatusCode.Should().Be(AgentStatusCode.DeadlineExceeded);
        timeout.Detail.Should().StartWith("PCIPath: ").And.Contain("1a/00");
    }

    private static async Task Refused(AgentClient client, string path, AgentStatusCode code, string problem)
    {
        var call = async () => await client.AddSwapByPathAsync(path);
        var error = (await call.Should().ThrowAsync<AgentStatusException>()).Which;
        error.StatusCode.Should().Be(code, path);
        error.Detail.Should().StartWith("path: ", path).And.Contain(problem, path);
    }

    /// <summary>The paths /proc/swaps lists (spaces in names are escaped as \040 there; ours have none).</summary>
    private static List<string> ActiveSwaps() =>
        File.ReadAllLines("/proc/swaps").Skip(1).Select(line => line.Split(' ', '\t')[0]).ToList();

    private static void SwapOff(string path)
    {
        if (ActiveSwaps().Contains(path))
        {
            KataAgent.Agent.Interop.AgentLibc.SwapOff(path).Should().Be(0, $"swapoff {path}");
        }
    }
}
