namespace KataAgent.Tests.Infrastructure;

/// <summary>Where the build puts things, found from the test assembly's location.</summary>
public static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    /// <summary>The Native-AOT agent that ./build.sh publishes.</summary>
    public static string AgentBinary => Require(Path.Combine(Root, "out", "kata-agent"));

    /// <summary>The kactl binary that ./build.sh publishes.</summary>
    public static string KactlBinary => Require(Path.Combine(Root, "out", "kactl"));

    private static string Require(string path) =>
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
