using System.Text;

namespace KataAgent.Rootfs.Kernel;

/// <summary>
/// A kernel's module tree (<c>lib/modules/KVER</c>): which modules it has, what each depends on
/// (<c>modules.dep</c>, or the modules' own <c>.modinfo</c> when the tree has none) and which are built in
/// (<c>modules.builtin</c>). <see cref="Resolve"/> turns a wanted set into the closure in load order.
/// </summary>
public sealed class KernelModules
{
    /// <summary>
    /// What the guest needs from Debian's cloud kernel, where all of it is modular: virtio over PCI, the
    /// virtio console/serial ports, block, net, vsock (virtio transport, plus loopback for in-guest tests),
    /// virtio-rng (without an entropy source the guest CRNG may not be ready for a long time under TCG, and
    /// getrandom(), which glibc's arc4random and so every .NET process start use, blocks until it is),
    /// overlayfs and virtio-fs (with fuse).
    /// </summary>
    public static IReadOnlyList<string> DefaultSet { get; } =
        ["virtio_pci", "virtio_console", "virtio_blk", "virtio_net", "virtio_rng", "vmw_vsock_virtio_transport", "vsock_loopback", "overlay", "fuse", "virtiofs"];

    /// <summary>
    /// Modules the image carries but PID 1 loads only when a pod asks for what they do (pod volumes): loop (disk-backed
    /// emptyDirs with a size limit), device-mapper and dm-crypt, and the XTS mode over ECB for aes-xts-plain64 (AES
    /// itself is built in). dm-crypt finds its cipher through the kernel's module autoloader, which calls a modprobe the
    /// guest does not have; so the agent loads them itself.
    /// </summary>
    public static IReadOnlyList<string> OnDemandSet { get; } = ["loop", "dm_crypt", "ecb", "xts"];

    private readonly Dictionary<string, KernelModule> _modules;
    private readonly HashSet<string> _builtIn;

    private KernelModules(string directory, string kernelVersion, Dictionary<string, KernelModule> modules, HashSet<string> builtIn)
    {
        Directory = directory;
        KernelVersion = kernelVersion;
        _modules = modules;
        _builtIn = builtIn;
    }

    /// <summary>The tree, <c>…/lib/modules/KVER</c>.</summary>
    public string Directory { get; }

    /// <summary>The kernel release the tree belongs to (<c>uname -r</c> in the guest).</summary>
    public string KernelVersion { get; }

    /// <summary>Every loadable module, by name.</summary>
    public IReadOnlyDictionary<string, KernelModule> Modules => _modules;

    /// <summary>The names of the modules built into the kernel.</summary>
    public IReadOnlySet<string> BuiltIn => _builtIn;

    /// <summary>The module name as the kernel knows it: <c>-</c> becomes <c>_</c>.</summary>
    public static string NormalizeName(string name) => name.Trim().Replace('-', '_');

    /// <summary>
    /// Reads the tree at <paramref name="modulesDirectory"/>. Uses its modules.dep when present; otherwise scans
    /// every module's <c>.modinfo</c> (see <see cref="ModulesDepGenerator"/>).
    /// </summary>
    /// <param name="modulesDirectory"><c>…/lib/modules/KVER</c>.</param>
    /// <param name="kernelVersion">The kernel release; defaults to the directory's name.</param>
    public static async Task<KernelModules> LoadAsync(string modulesDirectory, string? kernelVersion = null, CancellationToken cancellationToken = default)
    {
        string directory = Path.GetFullPath(modulesDirectory).TrimEnd('/');
        if (!System.IO.Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException($"module tree {directory} does not exist");
        }
        kernelVersion ??= Path.GetFileName(directory);
        string depFile = Path.Join(directory, "modules.dep");
        string dep = File.Exists(depFile)
            ? await File.ReadAllTextAsync(depFile, cancellationToken).ConfigureAwait(false)
            : await ModulesDepGenerator.GenerateAsync(directory, cancellationToken).ConfigureAwait(false);
        var builtIn = new HashSet<string>(StringComparer.Ordinal);
        string builtInFile = Path.Join(directory, "modules.builtin");
        if (File.Exists(builtInFile))
        {
            foreach (string line in await File.ReadAllLinesAsync(builtInFile, cancellationToken).ConfigureAwait(false))
            {
                if (!string.IsNullOrWhiteSpace(line))
                {
                    builtIn.Add(KernelModuleFile.NameOf(line.Trim()));
                }
            }
        }
        return new KernelModules(directory, kernelVersion, ParseModulesDep(dep, directory, kernelVersion), builtIn);
    }

    /// <summary>Whether <paramref name="name"/> is a loadable module of this tree.</summary>
    public bool Contains(string name) => _modules.ContainsKey(NormalizeName(name));

    /// <summary>Whether <paramref name="name"/> is built into the kernel (nothing to load).</summary>
    public bool IsBuiltIn(string name) => _builtIn.Contains(NormalizeName(name));

    /// <summary>
    /// The modules to load for <paramref name="names"/>, dependencies first, each once: loading them in this
    /// order with <c>finit_module</c> (or insmod) succeeds. Names that are built into the kernel contribute nothing.
    /// </summary>
    /// <exception cref="KernelModuleNotFoundException">A module (requested or depended on) is neither in the tree nor built in.</exception>
    public IReadOnlyList<KernelModule> Resolve(IEnumerable<string> names)
    {
        ArgumentNullException.ThrowIfNull(names);
        var order = new List<KernelModule>();
        var done = new HashSet<string>(StringComparer.Ordinal);
        var visiting = new List<string>();
        foreach (string name in names)
        {
            if (!string.IsNullOrWhiteSpace(name))
            {
                Visit(NormalizeName(name), null, order, done, visiting);
            }
        }
        return order;
    }

    /// <summary>
    /// A modules.dep for just <paramref name="modules"/> (as <see cref="Resolve"/> returned them), with their image
    /// paths: lets busybox's or kmod's modprobe work inside the image too.
    /// </summary>
    public static string FormatModulesDep(IReadOnlyList<KernelModule> modules)
    {
        var byName = modules.ToDictionary(m => m.Name, StringComparer.Ordinal);
        var index = modules.Select((m, i) => (m.Name, i)).ToDictionary(p => p.Name, p => p.i, StringComparer.Ordinal);
        var text = new StringBuilder();
        foreach (var module in modules)
        {
            text.Append(module.ImageRelativePath).Append(':');
            // Latest-loaded first, so that reading the list from the end loads it in order.
            foreach (string dependency in module.Dependencies.Where(byName.ContainsKey).OrderByDescending(d => index[d]))
            {
                text.Append(' ').Append(byName[dependency].ImageRelativePath);
            }
            text.Append('\n');
        }
        return text.ToString();
    }

    private void Visit(string name, string? neededBy, List<KernelModule> order, HashSet<string> done, List<string> visiting)
    {
        if (done.Contains(name))
        {
            return;
        }
        if (visiting.Contains(name))
        {
            throw new KernelModuleException($"module dependency cycle in {Directory}/modules.dep: {string.Join(" -> ", visiting)} -> {name}");
        }
        if (!_modules.TryGetValue(name, out var module))
        {
            if (_builtIn.Contains(name))
            {
                done.Add(name);
                return;
            }
            throw new KernelModuleNotFoundException(name, KernelVersion, Directory, neededBy);
        }
        visiting.Add(name);
        // modules.dep lists dependencies so that loading from the last to the first works: walk it backwards.
        for (int i = module.Dependencies.Count - 1; i >= 0; i--)
        {
            Visit(module.Dependencies[i], name, order, done, visiting);
        }
        visiting.RemoveAt(visiting.Count - 1);
        done.Add(name);
        order.Add(module);
    }

    private static Dictionary<string, KernelModule> ParseModulesDep(string text, string directory, string kernelVersion)
    {
        var modules = new Dictionary<string, KernelModule>(StringComparer.Ordinal);
        int lineNumber = 0;
        foreach (string rawLine in text.Split('\n'))
        {
            lineNumber++;
            string line = rawLine.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                throw new KernelModuleException($"{directory}/modules.dep line {lineNumber}: expected 'path: dependencies', got '{line}'");
            }
            string path = Relative(line[..colon].Trim(), directory, kernelVersion);
            string[] dependencies = line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .Select(d => KernelModuleFile.NameOf(Relative(d, directory, kernelVersion)))
                .ToArray();
            string name = KernelModuleFile.NameOf(path);
            modules.TryAdd(name, new KernelModule(name, path, Path.Join(directory, path), dependencies));
        }
        return modules;
    }

    // Old depmod wrote absolute paths (/lib/modules/KVER/kernel/…); make them relative to the tree.
    private static string Relative(string path, string directory, string kernelVersion)
    {
        string prefix = $"/lib/modules/{kernelVersion}/";
        if (path.StartsWith(prefix, StringComparison.Ordinal))
        {
            return path[prefix.Length..];
        }
        if (path.StartsWith(directory + "/", StringComparison.Ordinal))
        {
            return path[(directory.Length + 1)..];
        }
        return path.TrimStart('/');
    }
}
