using FluentAssertions;
using KataAgent.Agent.Containers.Cgroups;
using Xunit;

namespace KataAgent.Tests.Cgroups;

/// <summary>Disposed watchers give back their inotify and eventfd descriptors (run alone, so the count is ours).</summary>
[Collection(RealCgroup2Collection.Name)]
public sealed class OomWatcherDescriptorTests
{
    private static int CountDescriptors(string target) =>
        new DirectoryInfo("/proc/self/fd").GetFileSystemInfos().Count(fd =>
        {
            try
            {
                return fd.LinkTarget?.Contains(target, StringComparison.Ordinal) == true;
            }
            catch (IOException)
            {
                return false; // closed while we looked
            }
        });

    [Fact]
    public void Disposed_and_failed_watchers_leave_no_inotify_or_eventfd_descriptors()
    {
        using var tree = new FakeCgroupTree();
        tree.WriteLeaf("memory.events", "oom_kill 0\n");
        int inotifyBefore = CountDescriptors("inotify");
        int eventfdBefore = CountDescriptors("eventfd");

        var watchers = Enumerable.Range(0, 10).Select(i => new OomWatcher(tree.LeafFile("memory.events"), $"c{i}", _ => { })).ToList();
        CountDescriptors("inotify").Should().Be(inotifyBefore + 10, "each watcher holds one inotify descriptor while it runs");
        CountDescriptors("eventfd").Should().Be(eventfdBefore + 10);
        watchers.ForEach(w => w.Dispose());
        for (int i = 0; i < 10; i++)
        {
            try
            {
                _ = new OomWatcher(tree.LeafFile("missing/memory.events"), "x", _ => { });
            }
            catch (CgroupException)
            {
            }
        }

        CountDescriptors("inotify").Should().Be(inotifyBefore);
        CountDescriptors("eventfd").Should().Be(eventfdBefore);
        watchers.Should().OnlyContain(w => !w.IsRunning);
    }
}
