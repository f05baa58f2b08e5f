using CliWrap;
using CliWrap.Buffered;

namespace KataAgent.VmTests.Images;

/// <summary>
/// Looks for a guest-pulled image on the host: a regular file whose bytes hold a token that only the image's rootfs
/// has (an unpacked file; the layer blobs are gzip, so only a decompressed layer or the rootfs file can show it),
/// or a file or directory named by one of the image's blob digests (a stored blob). Searched: /tmp (every test's
/// scratch directory, the sandbox's state directory and its virtio-fs share among them), /run and
/// /var/lib/kataagent, with grep and find, which never follow symlinks and skip devices, FIFOs and sockets. The
/// test registry's own storage is left out: it is the remote the guest pulls from, not the host's copy.
/// </summary>
public sealed class HostImageScan(string token, IReadOnlyList<string> digestHexes, string registryStorage)
{
    private static readonly string[] Roots = ["/tmp", "/run", "/var/lib/kataagent"];

    /// <summary>What the host holds of the image: paths, or none.</summary>
    public async Task<IReadOnlyList<string>> FindAsync(CancellationToken cancellationToken = default)
    {
        string[] roots = Roots.Where(Directory.Exists).ToArray();
        var found = new List<string>();
        // grep exits 1 when nothing matches and 2 on unreadable files (nsfs handles under /run/netns): neither is a finding.
        var grep = await Cli.Wrap("grep").WithArguments(["-r", "-l", "-F", "-s", "-D", "skip", "-e", token, .. roots])
            .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync(cancellationToken);
        found.AddRange(Lines(grep.StandardOutput).Select(path => "holds the token: " + path));
        foreach (string hex in digestHexes)
        {
            var find = await Cli.Wrap("find").WithArguments([.. roots, "-path", "/run/netns", "-prune", "-o", "-name", $"*{hex}*", "-print"])
                .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync(cancellationToken);
            found.AddRange(Lines(find.StandardOutput).Select(path => "named by a blob digest: " + path));
        }
        return found;
    }

    private IEnumerable<string> Lines(string output) =>
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(path => !path.StartsWith(registryStorage + "/", StringComparison.Ordinal) && path != registryStorage);
}
