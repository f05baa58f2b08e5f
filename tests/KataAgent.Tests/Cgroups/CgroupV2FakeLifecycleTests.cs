using FluentAssertions;
using KataAgent.Agent.Containers.Cgroups;
using Xunit;

namespace KataAgent.Tests.Cgroups;

/// <summary>Create, freeze, kill and process-list logic against a fake tree (the real hierarchy has its own tests).</summary>
public sealed class CgroupV2FakeLifecycleTests : IDisposable
{
    private readonly FakeCgroupTree _tree = new(createLeaf: false);

    public void Dispose() => _tree.Dispose();

    private string RootFile(string name) => Path.Combine(_tree.Root, name);

    private string KataFile(string name) => Path.Combine(_tree.Root, "kata", name);

    [Fact]
    public void Create_makes_the_leaf_and_enables_offered_controllers_in_each_ancestor()
    {
        File.WriteAllText(RootFile("cgroup.subtree_control"), "cpu memory\n");
        File.WriteAllText(KataFile("cgroup.controllers"), "cpu memory pids\n");

        _tree.Manager().Create();

        Directory.Exists(_tree.Leaf).Should().BeTrue();
        File.ReadAllText(RootFile("cgroup.subtree_control")).Should().Be("+cpuset +io +hugetlb +pids", "cpu and memory were already enabled");
        File.ReadAllText(KataFile("cgroup.subtree_control")).Should().Be("+cpu +memory +pids", "only what the parent offers");
    }

    [Fact]
    public void Create_is_idempotent()
    {
        var manager = _tree.Manager();
        manager.Create();
        // What the kernel would now show: the controllers, without '+'.
        File.WriteAllText(RootFile("cgroup.subtree_control"), FakeCgroupTree.AllControllers + "\n");
        File.WriteAllText(KataFile("cgroup.subtree_control"), FakeCgroupTree.AllControllers + "\n");

        manager.Create();

        File.ReadAllText(RootFile("cgroup.subtree_control")).Should().Be(FakeCgroupTree.AllControllers + "\n");
        File.ReadAllText(KataFile("cgroup.subtree_control")).Should().Be(FakeCgroupTree.AllControllers + "\n");
        Directory.Exists(_tree.Leaf).Should().BeTrue();
    }

    [Fact]
    public void Create_below_a_directory_that_is_not_a_cgroup_names_the_missing_file()
    {
        File.Delete(KataFile("cgroup.controllers"));
        var create = () => _tree.Manager().Create();
        create.Should().Throw<CgroupException>().Which.FilePath.Should().Be(KataFile("cgroup.controllers"));
    }

    [Fact]
    public void A_refused_controller_is_named_in_the_error()
    {
        // /proc/version reads fine and refuses every write (EIO), like a kernel refusing a controller.
        File.Delete(KataFile("cgroup.subtree_control"));
        File.CreateSymbolicLink(KataFile("cgroup.subtree_control"), "/proc/version");
        var create = () => _tree.Manager().Create();
        var error = create.Should().Throw<CgroupException>().Which;
        error.Message.Should().Contain("enabling the 'cpuset' controller").And.Contain("cgroup.subtree_control");
        error.Controller.Should().Be("cpuset");
        error.Errno.Should().Be(5);
    }

    [Fact]
    public void Freeze_writes_cgroup_freeze_and_returns_once_events_say_frozen()
    {
        using var leaf = new FakeCgroupTree();
        leaf.WriteLeaf("cgroup.events", "populated 1\nfrozen 1\n");
        var manager = leaf.Manager();
        manager.Freeze();
        leaf.ReadLeaf("cgroup.freeze").Should().Be("1");
        manager.IsFrozen().Should().BeTrue();

        leaf.WriteLeaf("cgroup.events", "populated 1\nfrozen 0\n");
        manager.Thaw();
        leaf.ReadLeaf("cgroup.freeze").Should().Be("0");
    }

    [Fact]
    public void Freeze_times_out_when_the_cgroup_never_reports_frozen_and_thaws_it_again()
    {
        using var leaf = new FakeCgroupTree();
        leaf.WriteLeaf("cgroup.events", "populated 1\nfrozen 0\n");
        var manager = leaf.Manager(freezeTimeout: TimeSpan.FromMilliseconds(200));
        var freeze = () => manager.Freeze();
        freeze.Should().Throw<CgroupException>().WithMessage("*cgroup.events did not report 'frozen 1' within 0.2 s*");
        leaf.ReadLeaf("cgroup.freeze").Should().Be("0");
    }

    [Fact]
    public void Without_a_freezer_file_freeze_names_the_missing_feature()
    {
        using var leaf = new FakeCgroupTree();
        File.Delete(leaf.LeafFile("cgroup.freeze"));
        var freeze = () => leaf.Manager().Freeze();
        freeze.Should().Throw<CgroupException>().WithMessage("*cgroup.freeze does not exist*");
    }

    [Fact]
    public void AddProcess_writes_the_pid_and_Pids_reads_them_back()
    {
        using var leaf = new FakeCgroupTree();
        var manager = leaf.Manager();
        manager.AddProcess(4242);
        leaf.ReadLeaf("cgroup.procs").Should().Be("4242");
        leaf.WriteLeaf("cgroup.procs", "1\n22\n333\n");
        manager.Pids().Should().Equal(1, 22, 333);
    }

    [Fact]
    public async Task Kill_uses_cgroup_kill_when_the_kernel_has_it()
    {
        using var leaf = new FakeCgroupTree();
        await using var process = new SleepProcess();
        leaf.WriteLeaf("cgroup.procs", $"{process.Pid}\n");
        leaf.Manager().Kill();
        leaf.ReadLeaf("cgroup.kill").Should().Be("1");
        (await process.WaitForExitAsync(TimeSpan.FromMilliseconds(300))).Should().BeFalse("cgroup.kill in a fake tree kills nothing, so no signal was sent");
    }

    [Fact]
    public async Task Without_cgroup_kill_every_listed_process_gets_SIGKILL()
    {
        using var leaf = new FakeCgroupTree();
        File.Delete(leaf.LeafFile("cgroup.kill"));
        await using var first = new SleepProcess();
        await using var second = new SleepProcess();
        Directory.CreateDirectory(Path.Combine(leaf.Leaf, "child"));
        leaf.WriteLeaf("cgroup.procs", $"{first.Pid}\n");
        File.WriteAllText(Path.Combine(leaf.Leaf, "child", "cgroup.procs"), $"{second.Pid}\n");

        leaf.Manager().Kill();

        (await first.WaitForExitAsync(TimeSpan.FromSeconds(5))).Should().BeTrue();
        (await second.WaitForExitAsync(TimeSpan.FromSeconds(5))).Should().BeTrue("descendant cgroups are killed too");
        leaf.ReadLeaf("cgroup.freeze").Should().Be("0", "the fallback freezes around the kills and thaws after");
    }
}
