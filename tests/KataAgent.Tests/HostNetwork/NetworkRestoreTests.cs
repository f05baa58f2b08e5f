using FluentAssertions;
using KataAgent.Host.Network;
using KataAgent.Host.Network.Checkpoints;
using KataAgent.Host.Network.Endpoints;
using KataAgent.Testing;
using KataAgent.Testing.Network;
using Xunit;

namespace KataAgent.Tests.HostNetwork;

/// <summary>
/// A checkpointed VM's network wired into a pod netns again (no VM): the checkpoint read from the sandbox's journal,
/// each model re-made in a second CNI-like netns with the NICs' own MACs, everything checked before anything is
/// changed (a missing netns, another pod IP or MTU, a tap or qdisc of another VM in the way), and the target netns
/// exactly as before after the teardown, also from the journal alone after a crash.
/// </summary>
public sealed class NetworkRestoreTests : IDisposable
{
    private readonly CniLikePodNetwork _a = new();
    private readonly CniLikePodNetwork _b = new();
    private readonly TempDirectory _state = new();

    public void Dispose()
    {
        _a.Dispose();
        _b.Dispose();
        _state.Dispose();
    }

    /// <summary>Sets <paramref name="model"/> up in A with a journal, and returns the checkpoint the journal carries, with A torn down again.</summary>
    private async Task<NetworkCheckpoint> CheckpointInAAsync(NetworkModel model, IReadOnlyList<PortForward>? ports = null)
    {
        string journal = _state.File("a-network.json");
        var endpoint = await NetworkEndpoint.SetUpAsync(model, _a.PodPath, _state.Path, ports, journalPath: journal);
        var checkpoint = NetworkCheckpoint.FromJournal(journal);
        checkpoint.Should().BeEquivalentTo(NetworkCheckpoint.Of(endpoint), "the journal carries what the running endpoint describes");
        await endpoint.TearDownAsync();
        return checkpoint!;
    }

    [Theory]
    [InlineData(NetworkModel.TcFilter)]
    [InlineData(NetworkModel.Macvtap)]
    [InlineData(NetworkModel.Passt)]
    public async Task A_checkpointed_network_is_wired_into_another_netns_with_the_same_nics_and_leaves_nothing(NetworkModel model)
    {
        var checkpoint = await CheckpointInAAsync(model, model == NetworkModel.Passt ? [new PortForward(8080, 80)] : null);
        var nic = checkpoint.Nics.Should().ContainSingle().Subject;
        nic.Name.Should().Be("eth0");
        nic.Addresses.Should().Equal(CniLikePodNetwork.PodAddress + "/24");
        checkpoint.NamespacePath.Should().Be(_a.PodPath);
        string before = _b.Snapshot();
        string journal = _state.File("b-network.json");

        var restored = await NetworkEndpoint.RestoreAsync(checkpoint, _b.PodPath, _state.Path, journal);

        restored.Model.Should().Be(model);
        restored.Network.NamespacePath.Should().Be(_b.PodPath);
        var device = restored.Devices.Should().ContainSingle().Subject;
        device.Mac.Should().Be(nic.GuestMac, "the restored device must be the checkpointed one");
        device.Queues.Should().Be(nic.Queues);
        NetworkCheckpoint.FromJournal(journal).Should().BeEquivalentTo(checkpoint with { NamespacePath = _b.PodPath },
            "the restored sandbox's journal describes the same NICs, now in B");
        switch (model)
        {
            case NetworkModel.TcFilter:
                device.Netdev.Should().Be("tap,ifname=tap0_kata,script=no,downscript=no,vhost=off");
                CniLikePodNetwork.Run("tc", "-n", _b.PodName, "filter", "show", "dev", "eth0", "ingress")
                    .Should().Contain("mirred (Egress Redirect to device tap0_kata)");
                break;
            case NetworkModel.Macvtap:
                CniLikePodNetwork.Ip("-n", _b.PodName, "-d", "link", "show", "tap0_kata").Should().Contain("macvtap mode bridge").And.Contain(nic.GuestMac);
                break;
            case NetworkModel.Passt:
                var passt = (PasstEndpoint)restored;
                passt.PortForwards.Should().Equal(new PortForward(8080, 80));
                CniLikePodNetwork.Run("readlink", $"/proc/{passt.ProcessId}/ns/net").Should().Be(CniLikePodNetwork.Run("ip", "netns", "exec", _b.PodName, "readlink", "/proc/self/ns/net"));
                CniLikePodNetwork.Run("ip", "netns", "exec", _b.PodName, "ss", "-Htln").Should().Contain(":8080", "the forwarded port is bound in B");
                break;
        }
        CniLikePodNetwork.Ip("-n", _a.PodName, "link", "show").Should().NotContain("tap0_kata", "nothing is wired into A");

        await restored.TearDownAsync();

        _b.DifferencesFrom(before).Should().BeEmpty();
        File.Exists(journal).Should().BeFalse();
    }

    [Theory]
    [InlineData(NetworkModel.TcFilter)]
    [InlineData(NetworkModel.Macvtap)]
    public async Task The_guest_keeps_its_mac_when_the_target_veth_has_another(NetworkModel model)
    {
        var checkpoint = await CheckpointInAAsync(model);
        const string otherMac = "02:88:00:00:00:b2";
        CniLikePodNetwork.Ip("-n", _b.PodName, "link", "set", "eth0", "address", otherMac);
        string before = _b.Snapshot();

        var restored = await NetworkEndpoint.RestoreAsync(checkpoint, _b.PodPath, _state.Path);

        restored.Devices.Single().Mac.Should().Be(CniLikePodNetwork.PodMac, "the guest's NIC keeps the MAC it had in A");
        if (model == NetworkModel.Macvtap)
        {
            CniLikePodNetwork.Ip("-n", _b.PodName, "link", "show", "tap0_kata").Should().Contain(CniLikePodNetwork.PodMac, "macvtap delivers by the guest's MAC");
        }
        else
        {
            CniLikePodNetwork.Ip("-n", _b.PodName, "link", "show", "eth0").Should().Contain(otherMac, "the redirect carries frames whatever their MAC: the veth is left as it is");
        }
        await restored.TearDownAsync();
        _b.DifferencesFrom(before).Should().BeEmpty();
    }

    [Fact]
    public async Task A_missing_netns_is_a_clear_error()
    {
        var checkpoint = await CheckpointInAAsync(NetworkModel.TcFilter);
        string missing = "/var/run/netns/kp-missing-" + Guid.NewGuid().ToString("N")[..8];

        var restore = () => NetworkEndpoint.RestoreAsync(checkpoint, missing, _state.Path);

        await restore.Should().ThrowAsync<PodNetworkException>().WithMessage($"the network namespace {missing} does not exist");
    }

    [Fact]
    public async Task Another_pod_ip_and_mtu_are_refused_naming_both_before_anything_changes()
    {
        var checkpoint = await CheckpointInAAsync(NetworkModel.TcFilter);
        CniLikePodNetwork.Ip("-n", _b.PodName, "addr", "flush", "dev", "eth0");
        CniLikePodNetwork.Ip("-n", _b.PodName, "addr", "add", "10.88.0.7/24", "dev", "eth0");
        string before = _b.Snapshot();

        var restore = () => NetworkEndpoint.RestoreAsync(checkpoint, _b.PodPath, _state.Path, _state.File("b.json"));

        (await restore.Should().ThrowAsync<PodNetworkException>()).Which.Message.Should()
            .Contain("nics[0] (eth0): eth0 has 10.88.0.7/24, not the pod's 10.88.0.2/24").And.Contain("keeps the pod IP");
        _b.DifferencesFrom(before).Should().BeEmpty();
        File.Exists(_state.File("b.json")).Should().BeFalse();

        CniLikePodNetwork.Ip("-n", _b.PodName, "addr", "add", CniLikePodNetwork.PodAddress + "/24", "dev", "eth0");
        CniLikePodNetwork.Ip("-n", _b.PodName, "link", "set", "eth0", "mtu", "1400");
        (await restore.Should().ThrowAsync<PodNetworkException>()).Which.Message.Should().Contain("eth0 has MTU 1400, the pod's NIC 1500");
    }

    [Fact]
    public async Task A_netns_without_the_interface_is_refused()
    {
        var checkpoint = await CheckpointInAAsync(NetworkModel.TcFilter);
        CniLikePodNetwork.Ip("-n", _b.PodName, "link", "set", "eth0", "down");
        CniLikePodNetwork.Ip("-n", _b.PodName, "link", "set", "eth0", "name", "net1");

        var restore = () => NetworkEndpoint.RestoreAsync(checkpoint, _b.PodPath, _state.Path);

        (await restore.Should().ThrowAsync<PodNetworkException>()).Which.Message.Should().Contain("nics[0] (eth0): it has no interface eth0");
    }

    [Theory]
    [InlineData(NetworkModel.TcFilter)]
    [InlineData(NetworkModel.Macvtap)]
    public async Task A_netns_another_vm_is_wired_into_is_refused_and_left_as_it_is(NetworkModel model)
    {
        var checkpoint = await CheckpointInAAsync(model);
        // The running pod's own wiring (a live copy restored into the same netns would meet it).
        await using var running = await NetworkEndpoint.SetUpAsync(model, _b.PodPath, _state.Path);
        string before = _b.Snapshot();

        var restore = () => NetworkEndpoint.RestoreAsync(checkpoint, _b.PodPath, _state.Path);

        var message = (await restore.Should().ThrowAsync<PodNetworkException>()).Which.Message;
        message.Should().StartWith($"the network namespace {_b.PodPath} cannot take the restored pod's {model} network:");
        if (model == NetworkModel.TcFilter)
        {
            message.Should().Contain("already has an interface tap0_kata").And.Contain("eth0 already has an ingress qdisc");
        }
        else
        {
            message.Should().Contain("already has an interface tap0_kata (macvtap").And.Contain("eth0 already has macvtap tap0_kata on it");
        }
        _b.DifferencesFrom(before).Should().BeEmpty();
    }

    [Theory]
    [InlineData(NetworkModel.TcFilter)]
    [InlineData(NetworkModel.Macvtap)]
    [InlineData(NetworkModel.Passt)]
    public async Task A_restore_whose_process_died_is_undone_from_the_journal_alone(NetworkModel model)
    {
        var checkpoint = await CheckpointInAAsync(model);
        string before = _b.Snapshot();
        string journal = _state.File("b-network.json");
        // Wired, then the restoring process "dies" before qemu starts: the endpoint is never torn down.
        var restored = await NetworkEndpoint.RestoreAsync(checkpoint, _b.PodPath, _state.Path, journal);
        _b.DifferencesFrom(before).Should().NotBeEmpty();

        (await NetworkEndpoint.TearDownFromJournalAsync(journal)).Should().BeTrue();

        _b.DifferencesFrom(before).Should().BeEmpty();
        if (restored is PasstEndpoint passt)
        {
            ProcessState.IsRunning(passt.ProcessId).Should().BeFalse("passt is stopped");
        }
        File.Exists(journal).Should().BeFalse();
    }

    [Fact]
    public async Task A_checkpoint_survives_a_save_and_load_and_a_broken_file_is_named()
    {
        var checkpoint = await CheckpointInAAsync(NetworkModel.Passt, [new PortForward(8080, 80, "udp")]);
        string path = _state.File("net.json");

        checkpoint.Save(path);

        NetworkCheckpoint.Load(path).Should().BeEquivalentTo(checkpoint);
        File.WriteAllText(path, "{\"model\":\"Passt\"}");
        var load = () => NetworkCheckpoint.Load(path);
        load.Should().Throw<PodNetworkException>().WithMessage($"{path} is not a network checkpoint:*");
        File.Delete(path);
        load.Should().Throw<PodNetworkException>().WithMessage($"the network checkpoint {path} cannot be read:*");
    }

    [Fact]
    public async Task The_none_model_needs_only_the_netns()
    {
        var checkpoint = new NetworkCheckpoint { Model = NetworkModel.None, NamespacePath = _a.PodPath, Nics = [] };

        var restored = await NetworkEndpoint.RestoreAsync(checkpoint, _b.PodPath, _state.Path);

        restored.Devices.Should().BeEmpty();
        NetworkCheckpoint.FromJournal(_state.File("none.json")).Should().BeNull("no journal, no network to checkpoint");
    }
}
