using System.Collections.Concurrent;
using System.Text;
using KataAgent.Rootfs.Elf;

namespace KataAgent.Rootfs.Kernel;

/// <summary>
/// Writes a module tree's <c>modules.dep</c> the way <c>depmod</c> would, from each module's own <c>.modinfo</c>
/// (<c>depends=a,b</c>), with no kmod tools. Needed because a kernel .deb unpacked with <c>dpkg -x</c> has no
/// modules.dep: its postinst runs depmod, and nothing installs it here.
/// </summary>
/// <remarks>
/// Each line is <c>path: dep dep …</c> with paths relative to <c>lib/modules/KVER</c> and the full transitive
/// dependency list ordered so that loading it from the last entry to the first works (modprobe's reading).
/// Lines follow <c>modules.order</c>, then path order. For a module name present twice, the first file wins.
/// </remarks>
public static class ModulesDepGenerator
{
    /// <summary>The text of modules.dep for the tree at <paramref name="modulesDirectory"/> (<c>…/lib/modules/KVER</c>).</summary>
    public static async Task<string> GenerateAsync(string modulesDirectory, CancellationToken cancellationToken = default)
    {
        if (!Directory.Exists(modulesDirectory))
        {
            throw new DirectoryNotFoundException($"module tree {modulesDirectory} does not exist");
        }
        var files = Directory.EnumerateFiles(modulesDirectory, "*", SearchOption.AllDirectories)
            .Where(f => KernelModuleFile.IsModuleFile(Path.GetFileName(f)))
            .Select(f => Path.GetRelativePath(modulesDirectory, f).Replace('\\', '/'))
            .ToList();
        var orderIndex = ReadOrder(modulesDirectory);
        files.Sort((a, b) =>
        {
            int ia = orderIndex.GetValueOrDefault(KernelModuleFile.StripCompressionSuffix(a), int.MaxValue);
            int ib = orderIndex.GetValueOrDefault(KernelModuleFile.StripCompressionSuffix(b), int.MaxValue);
            return ia != ib ? ia.CompareTo(ib) : string.CompareOrdinal(a, b);
        });

        var pathByName = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string file in files)
        {
            pathByName.TryAdd(KernelModuleFile.NameOf(file), file);
        }

        var direct = new ConcurrentDictionary<string, string[]>(StringComparer.Ordinal);
        await Parallel.ForEachAsync(pathByName, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = cancellationToken },
            async (entry, token) =>
            {
                string hostPath = Path.Join(modulesDirectory, entry.Value);
                byte[] bytes = await KernelModuleFile.ReadAllBytesAsync(hostPath, token).ConfigureAwait(false);
                string depends = ElfFile.Parse(bytes, hostPath).ReadModInfo()
                    .Where(kv => kv.Key == "depends").Select(kv => kv.Value).FirstOrDefault() ?? "";
                direct[entry.Key] = depends.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Select(KernelModules.NormalizeName)
                    .Where(pathByName.ContainsKey)
                    .ToArray();
            }).ConfigureAwait(false);

        var text = new StringBuilder();
        foreach (string file in files)
        {
            string name = KernelModuleFile.NameOf(file);
            if (pathByName[name] != file)
            {
                continue;
            }
            var loadOrder = new List<string>();
            var seen = new HashSet<string>(StringComparer.Ordinal) { name };
            foreach (string dependency in direct[name])
            {
                Visit(dependency, direct, seen, loadOrder, [name]);
            }
            loadOrder.Reverse();
            text.Append(file).Append(':');
            foreach (string dependency in loadOrder)
            {
                text.Append(' ').Append(pathByName[dependency]);
            }
            text.Append('\n');
        }
        return text.ToString();
    }

    /// <summary>Generates modules.dep and writes it into the tree (atomically, via a temporary file).</summary>
    public static async Task WriteAsync(string modulesDirectory, CancellationToken cancellationToken = default)
    {
        string text = await GenerateAsync(modulesDirectory, cancellationToken).ConfigureAwait(false);
        string target = Path.Join(modulesDirectory, "modules.dep");
        string temporary = target + ".tmp";
        await File.WriteAllTextAsync(temporary, text, cancellationToken).ConfigureAwait(false);
        File.Move(temporary, target, overwrite: true);
    }

    private static void Visit(string name, IReadOnlyDictionary<string, string[]> direct, HashSet<string> seen, List<string> loadOrder, List<string> path)
    {
        if (path.Contains(name))
        {
            throw new KernelModuleException($"module dependency cycle: {string.Join(" -> ", path)} -> {name}");
        }
        if (!seen.Add(name))
        {
            return;
        }
        path.Add(name);
        foreach (string dependency in direct[name])
        {
            Visit(dependency, direct, seen, loadOrder, path);
        }
        path.RemoveAt(path.Count - 1);
        loadOrder.Add(name);
    }

    private static Dictionary<string, int> ReadOrder(string modulesDirectory)
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        string order = Path.Join(modulesDirectory, "modules.order");
        if (File.Exists(order))
        {
            foreach (string line in File.ReadLines(order))
            {
                index.TryAdd(KernelModuleFile.StripCompressionSuffix(line.Trim()), index.Count);
            }
        }
        return index;
    }
}
