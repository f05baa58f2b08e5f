using KataAgent.Agent.Containers.Cgroups;

namespace KataAgent.Tests.Cgroups;

/// <summary>
/// A cgroup v2 tree made of plain files in a temp directory: the root and "kata" offer every
/// controller, and the leaf "kata/c1" has its interface files pre-created empty, so tests can
/// check exactly what the manager wrote.
/// </summary>
public sealed class FakeCgroupTree : IDisposable
{
    public const string AllControllers = "cpuset cpu io memory hugetlb pids";

    public static readonly string[] LeafFiles =
    [
        "cgroup.procs", "cgroup.freeze", "cgroup.events", "cgroup.kill", "cgroup.controllers", "cgroup.subtree_control",
        "memory.max", "memory.low", "memory.swap.max", "cpu.weight", "cpu.max", "cpuset.cpus", "cpuset.mems",
        "pids.max", "io.weight", "io.max", "hugetlb.2MB.max", "hugetlb.1GB.max",
    ];

    public FakeCgroupTree(bool createLeaf = true)
    {
        Root = Directory.CreateTempSubdirectory("ka-cg-").FullName;
        MakeCgroup(Root);
        MakeCgroup(System.IO.Path.Combine(Root, "kata"));
        if (createLeaf)
        {
            Directory.CreateDirectory(Leaf);
            foreach (string file in LeafFiles)
            {
                File.WriteAllText(LeafFile(file), "");
            }
        }
    }

    public string Root { get; }

    public string Leaf => System.IO.Path.Combine(Root, "kata", "c1");

    public string LeafFile(string name) => System.IO.Path.Combine(Leaf, name);

    public string ReadLeaf(string name) => File.ReadAllText(LeafFile(name));

    public void WriteLeaf(string name, string content) => File.WriteAllText(LeafFile(name), content);

    public CgroupV2Manager Manager(TimeSpan? freezeTimeout = null) =>
        new("/kata/c1", Root) { FreezeTimeout = freezeTimeout ?? TimeSpan.FromSeconds(5) };

    /// <summary>Every leaf file with its content, for "nothing else changed" checks.</summary>
    public Dictionary<string, string> Snapshot() =>
        Directory.GetFiles(Leaf).ToDictionary(path => System.IO.Path.GetFileName(path), File.ReadAllText);

    private static void MakeCgroup(string directory)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllText(System.IO.Path.Combine(directory, "cgroup.controllers"), AllControllers + "\n");
        File.WriteAllText(System.IO.Path.Combine(directory, "cgroup.subtree_control"), "");
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
