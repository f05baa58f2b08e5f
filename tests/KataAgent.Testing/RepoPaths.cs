namespace KataAgent.Testing;

/// <summary>Where the build puts things, found from the running assembly's location.</summary>
public static class RepoPaths
{
    /// <summary>The repository root: the nearest directory above the running assembly that holds KataAgent.sln.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>The Native-AOT agent that ./build.sh publishes.</summary>
    public static string AgentBinary => Require(Path.Combine(Root, "out", "kata-agent"));

    /// <summary>The agent's spawn-chain helper that ./build.sh publishes beside the agent, where the agent looks for it.</summary>
    public static string InitHelperBinary => Require(Path.Combine(Root, "out", "kata-agent-init"));

    /// <summary>The kactl binary that ./build.sh publishes.</summary>
    public static string KactlBinary => Require(Path.Combine(Root, "out", "kactl"));

    /// <summary>The guest kernel that ./build.sh fetches (Debian's cloud kernel).</summary>
    public static string Kernel => Require(Path.Combine(Root, "out", "vmlinuz"));

    /// <summary>The guest image that ./build.sh builds, with the published agent as /init.</summary>
    public static string Initrd => Require(Path.Combine(Root, "out", "initrd.img"));

    /// <summary>./build.sh's guest image with guest pull (kata-rootfs build --guest-pull).</summary>
    public static string GuestPullInitrd => Require(Path.Combine(Root, "out", "initrd-guest-pull.img"));

    /// <summary>Debian's static busybox (package busybox-static, which build.sh installs).</summary>
    public static string Busybox => Require("/bin/busybox");

    /// <summary>The kata-rootfs CLI, built next to the tests of a project that references it.</summary>
    public static string CliAssembly => Require(Path.Combine(AppContext.BaseDirectory, "kata-rootfs.dll"));

    /// <summary>The test helper that owns a non-detached VM until it is killed, built next to the tests of a project that references it.</summary>
    public static string VmStarterAssembly => Require(Path.Combine(AppContext.BaseDirectory, "KataAgent.VmStarter.dll"));

    /// <summary>The dotnet host running these tests, to run the helper assemblies with.</summary>
    public static string DotnetHost =>
        Path.GetFileName(Environment.ProcessPath) == "dotnet" ? Environment.ProcessPath! : "dotnet";

    /// <summary><paramref name="path"/>, or an error that says to build first when it does not exist.</summary>
    public static string Require(string path) =>
        File.Exists(path) ? path : throw new InvalidOperationException($"{path} is missing: run ./build.sh first (./build.sh test does)");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "KataAgent.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException($"no KataAgent.sln above {AppContext.BaseDirectory}");
    }
}
