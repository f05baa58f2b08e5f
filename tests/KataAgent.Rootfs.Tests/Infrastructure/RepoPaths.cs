namespace KataAgent.Rootfs.Tests.Infrastructure;

/// <summary>Where the build puts things, found from the test assembly's location.</summary>
public static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    /// <summary>The Native-AOT agent that ./build.sh publishes.</summary>
    public static string AgentBinary => Require(Path.Combine(Root, "out", "kata-agent"));

    /// <summary>Debian's static busybox (package busybox-static, which build.sh installs).</summary>
    public static string Busybox => Require("/bin/busybox");

    /// <summary>The kata-rootfs CLI, built next to the tests through the project reference.</summary>
    public static string CliAssembly => Require(Path.Combine(AppContext.BaseDirectory, "kata-rootfs.dll"));

    /// <summary>The test helper that owns a non-detached VM until it is killed, built next to the tests through the project reference.</summary>
    public static string VmStarterAssembly => Require(Path.Combine(AppContext.BaseDirectory, "KataAgent.VmStarter.dll"));

    /// <summary>The dotnet host running these tests, to run the helper assemblies with.</summary>
    public static string DotnetHost =>
        Path.GetFileName(Environment.ProcessPath) == "dotnet" ? Environment.ProcessPath! : "dotnet";

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
