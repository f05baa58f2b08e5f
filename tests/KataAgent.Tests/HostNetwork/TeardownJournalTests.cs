using FluentAssertions;
using KataAgent.Host.Network;
using KataAgent.Host.Network.Endpoints;
using KataAgent.Testing.Network;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.HostNetwork;

/// <summary>
/// The teardown journal: an endpoint set up with a journal path can be torn down from that file alone, by a
/// process that never saw the endpoint (a detached sandbox's `kactl rm`, or one whose owner died), leaving
/// the pod netns exactly as CNI left it; the restore is idempotent, copes with a netns already gone, and a
/// file that is no journal is a clear error.
/// </summary>
public sealed class TeardownJournalTests : IDisposable
{
    private readonly CniLikePodNetwork _pod = new();
    private readonly TempDirectory _state = new();

    public void Dispose()
    {
        _pod.Dispose();
        _state.Dispose();
    }

    private string Journal => _state.File("network.json");

    [Theory]
    [InlineData(NetworkModel.TcFilter)]
    [InlineData(NetworkModel.Macvtap)]
    [InlineData(NetworkModel.Passt)]
    public async Task An_endpoint_left_behind_is_restored_from_its_journal_alone(NetworkModel model)
    {
        string before = _pod.Snapshot();
        // Left behind: its owner never tears it down, as if the process had gone.
        var endpoint = await NetworkEndpoint.SetUpAsync(model, _pod.PodPath, _state.Path,
            model == NetworkModel.Passt ? [new PortForward(8080, 80)] : null, journalPath: Journal);
        _pod.DifferencesFrom(before).Should().NotBeEmpty("the endpoint changed the pod netns");
        int? passt = (endpoint as PasstEndpoint)?.ProcessId;
        string? passtDirectory = endpoint is PasstEndpoint p ? Path.GetDirectoryName(p.SocketPath) : null;

        (await NetworkEndpoint.TearDownFromJournalAsync(Journal)).Should().BeTrue();

        _pod.DifferencesFrom(before).Should().BeEmpty();
        File.Exists(Journal).Should().BeFalse("a complete restore deletes the journal");
        if (passt is { } pid)
        {
            ProcessState.IsRunning(pid).Should().BeFalse("passt is stopped");
            Directory.Exists(passtDirectory).Should().BeFalse("passt's socket, pid file and log go");
        }
        (await NetworkEndpoint.TearDownFromJournalAsync(Journal)).Should().BeFalse("there is nothing left to restore");
    }

    [Fact]
    public async Task A_restore_after_part_of_the_teardown_was_done_finishes_the_rest()
    {
        string before = _pod.Snapshot();
        await NetworkEndpoint.SetUpAsync(NetworkModel.Macvtap, _pod.PodPath, _state.Path, journalPath: Journal);
        // Part of the way back already done (by a teardown that died half-way, or by hand).
        CniLikePodNetwork.Ip("-n", _pod.PodName, "link", "del", "tap0_kata");
        CniLikePodNetwork.Ip("-n", _pod.PodName, "link", "set", "eth0", "address", CniLikePodNetwork.PodMac);
        CniLikePodNetwork.Ip("-n", _pod.PodName, "addr", "add", CniLikePodNetwork.PodAddress + "/24", "dev", "eth0");

        (await NetworkEndpoint.TearDownFromJournalAsync(Journal)).Should().BeTrue();

        _pod.DifferencesFrom(before).Should().BeEmpty();
    }

    [Fact]
    public async Task A_netns_that_is_gone_leaves_nothing_to_restore()
    {
        await NetworkEndpoint.SetUpAsync(NetworkModel.TcFilter, _pod.PodPath, _state.Path, journalPath: Journal);
        CniLikePodNetwork.Run("ip", "netns", "del", _pod.PodName);

        (await NetworkEndpoint.TearDownFromJournalAsync(Journal)).Should().BeTrue();

        File.Exists(Journal).Should().BeFalse();
    }

    [Fact]
    public async Task A_file_that_is_no_journal_is_a_clear_error()
    {
        File.WriteAllText(Journal, "{\"namespacePath\": \"/var/run/netns/x\", \"model\": \"TcFilter\", \"steps\": [{\"step\": \"launchMissiles\"}]}");

        var restore = () => NetworkEndpoint.TearDownFromJournalAsync(Journal);

        (await restore.Should().ThrowAsync<PodNetworkException>()).WithMessage($"{Journal} is not a network teardown journal*");
    }
}
