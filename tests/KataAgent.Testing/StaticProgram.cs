using System.Reflection;
using CliWrap;
using CliWrap.Buffered;

namespace KataAgent.Testing;

/// <summary>
/// The bench's C programs (the floor init, the network benchmark's netbench) travel as embedded
/// sources and are compiled at run time into static binaries: they must run in images and rootfs
/// trees that have no libraries.
/// </summary>
public static class StaticProgram
{
    /// <summary>Writes the embedded <paramref name="resource"/> to <paramref name="directory"/>/NAME.c, compiles it with
    /// <c>gcc -static -s</c> and <paramref name="optimization"/>, and returns the binary's path.</summary>
    public static async Task<string> CompileAsync(string resource, string name, string directory, string optimization, CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(directory);
        string source = Path.Combine(directory, name + ".c");
        await using (var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"resource {resource} is missing from the KataAgent.Testing assembly"))
        await using (var file = File.Create(source))
        {
            await stream.CopyToAsync(file, cancellationToken);
        }
        string binary = Path.Combine(directory, name);
        BufferedCommandResult result;
        try
        {
            // -s: the symbols are of no use in a guest and would only make the image bigger.
            result = await Cli.Wrap("gcc").WithArguments(["-static", optimization, "-s", "-Wall", "-Wextra", "-o", binary, source])
                .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync(cancellationToken);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("gcc is not installed: apt-get install gcc libc6-dev (build.sh installs them)", e);
        }
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"gcc -static {optimization} {source} exited with {result.ExitCode} (a static glibc needs libc6-dev): {result.StandardError}");
        }
        return binary;
    }
}
