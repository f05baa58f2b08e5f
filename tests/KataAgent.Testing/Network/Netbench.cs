namespace KataAgent.Testing.Network;

/// <summary>netbench.c (embedded in this assembly): the network benchmark's server and client, one static binary.</summary>
public static class Netbench
{
    private const string SourceResource = "KataAgent.Testing.Network.netbench.c";

    /// <summary>Compiles netbench into <paramref name="directory"/>/netbench and returns its path.</summary>
    public static Task<string> CompileAsync(string directory, CancellationToken cancellationToken = default) =>
        StaticProgram.CompileAsync(SourceResource, "netbench", directory, "-O2", cancellationToken);
}
