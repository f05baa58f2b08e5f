using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using KataAgent.Rootfs.Compression;
using KataAgent.Rootfs.Cpio;
using KataAgent.Rootfs.Elf;
using KataAgent.Rootfs.Kernel;

namespace KataAgent.Rootfs.Image;

/// <summary>
/// Assembles the guest initrd, mbuto-style but with no host tools: the agent at <c>/init</c>; the ELF
/// interpreter and every shared library it needs at the paths ld.so looks in; the kernel modules it needs,
/// with their dependencies, under <c>/lib/modules/KVER</c> plus <c>kataagent.modules</c> (absolute paths in load
/// order, for PID 1's <c>finit_module</c> loop) and a modules.dep for them; optionally a static busybox at
/// <c>/bin/busybox</c> with <c>/bin/sh</c>; the directory skeleton; <c>/dev/console</c> and <c>/dev/null</c>; and
/// <c>/etc/kataagent-image</c>. Output: a cpio newc archive, uncompressed by default (gzip on request).
/// </summary>
public sealed class InitrdBuilder
{
    private readonly InitrdOptions _options;
    private IReadOnlyList<SharedLibrary> _libraries = [];
    private IReadOnlyList<KernelModule> _modules = [];
    private IReadOnlyList<string> _builtIn = [];
    private long _modulesSize;
    private long _busyboxSize;
    private long _guestPullSize;
    private long _initHelperSize;
    private long _mke2fsSize;
    private IReadOnlyList<KernelModule> _onDemand = [];

    public InitrdBuilder(InitrdOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
    }

    /// <summary>The image as a tree of entries, not yet written.</summary>
    /// <exception cref="SharedLibraryNotFoundException">A library the agent (or busybox) needs is missing.</exception>
    /// <exception cref="KernelModuleNotFoundException">A wanted module is not in the kernel's tree.</exception>
    public async Task<ImageTree> AssembleAsync(CancellationToken cancellationToken = default)
    {
        var options = _options;
        if (!File.Exists(options.AgentPath))
        {
            throw new FileNotFoundException($"the agent binary {options.AgentPath} does not exist (./build.sh publishes out/kata-agent)", options.AgentPath);
        }
        var tree = new ImageTree();
        foreach (string directory in ImageLayout.Directories)
        {
            tree.AddDirectory(directory, directory == "/tmp" ? 0x3FF /* 1777 */ : 0x1ED);
        }
        foreach (var (path, major, minor, permissions) in ImageLayout.DeviceNodes)
        {
            tree.AddCharacterDevice(path, major, minor, permissions);
        }

        var resolver = new ElfDependencies(sysroot: options.LibraryRoot);
        tree.AddFile(options.AgentImagePath, options.AgentPath, 0x1ED);
        var libraries = new List<SharedLibrary>(resolver.Resolve(options.AgentPath, ImageTree.Normalize(options.AgentImagePath)));
        if (options.InitHelperPath is { } helper)
        {
            if (!File.Exists(helper))
            {
                throw new FileNotFoundException($"the agent's spawn-chain helper {helper} does not exist (./build.sh publishes out/{InitrdOptions.InitHelperFileName} beside out/kata-agent)", helper);
            }
            tree.AddFile(options.InitHelperImagePath, helper, 0x1ED);
            foreach (var library in resolver.Resolve(helper, options.InitHelperImagePath))
            {
                if (!libraries.Any(l => l.Path == library.Path))
                {
                    libraries.Add(library);
                }
            }
            _initHelperSize = new FileInfo(helper).Length;
        }

        if (options.Mke2fsPath is { } mke2fs)
        {
            // Before busybox's applet links, so its ext2-only mke2fs does not take the path.
            AddTool(tree, resolver, mke2fs, ImageLayout.Mke2fs, libraries);
            _mke2fsSize = new FileInfo(mke2fs).Length;
        }
        if (options.BusyboxPath is { } busybox)
        {
            tree.AddFile(ImageLayout.Busybox, busybox, 0x1ED);
            tree.AddSymlink(ImageLayout.Shell, "busybox");
            await AddAppletLinksAsync(tree, busybox, cancellationToken).ConfigureAwait(false);
            _busyboxSize = new FileInfo(busybox).Length;
            foreach (var library in resolver.Resolve(busybox, ImageLayout.Busybox))
            {
                if (!libraries.Any(l => l.Path == library.Path))
                {
                    libraries.Add(library);
                }
            }
        }
        if (options.GuestPull is { } guestPull)
        {
            AddGuestPull(tree, resolver, guestPull, libraries);
            _guestPullSize = new FileInfo(guestPull.HelperPath).Length + new FileInfo(guestPull.CaBundlePath).Length;
        }
        foreach (var library in libraries)
        {
            // Copied as regular files (symlinks followed), like mbuto's cp --parents.
            tree.AddFile(library.Path, library.HostPath, 0x1ED);
        }
        _libraries = libraries;

        if (options.Kernel is { } kernel)
        {
            _modules = kernel.Resolve(options.ModuleNames);
            _onDemand = kernel.Resolve(options.OnDemandModuleNames).Where(m => !_modules.Any(b => b.Name == m.Name)).ToArray();
            _builtIn = options.ModuleNames.Select(KernelModules.NormalizeName).Where(kernel.IsBuiltIn).Distinct().ToArray();
            string moduleDirectory = ImageLayout.ModulesDirectory(kernel.KernelVersion);
            tree.AddDirectory(moduleDirectory);
            _modulesSize = 0;
            foreach (var module in _modules.Concat(_onDemand))
            {
                string imagePath = $"{moduleDirectory}/{module.ImageRelativePath}";
                if (module.RelativePath == module.ImageRelativePath)
                {
                    tree.AddFile(imagePath, module.HostPath, 0x1A4);
                    _modulesSize += new FileInfo(module.HostPath).Length;
                }
                else
                {
                    byte[] content = await KernelModuleFile.ReadAllBytesAsync(module.HostPath, cancellationToken).ConfigureAwait(false);
                    tree.AddFile(imagePath, content, 0x1A4);
                    _modulesSize += content.Length;
                }
            }
            tree.AddTextFile(ImageLayout.ModulesList(kernel.KernelVersion),
                string.Concat(_modules.Select(m => $"{moduleDirectory}/{m.ImageRelativePath}\n")));
            tree.AddTextFile($"{moduleDirectory}/modules.dep", KernelModules.FormatModulesDep([.. _modules, .. _onDemand]));
        }

        tree.AddTextFile(ImageLayout.BuildInfo, BuildInfo(options));
        options.Customize?.Invoke(tree);
        return tree;
    }

    /// <summary>
    /// The guest pull helper with its libraries, the OpenSSL libraries .NET opens for TLS (looked up by soname in the
    /// library directories, as ld.so will in the guest, with what they need in turn) and the CA bundle.
    /// </summary>
    private static void AddGuestPull(ImageTree tree, ElfDependencies resolver, GuestPullFiles guestPull, List<SharedLibrary> libraries)
    {
        if (!File.Exists(guestPull.HelperPath))
        {
            throw new FileNotFoundException($"the guest pull helper {guestPull.HelperPath} does not exist (./build.sh publishes out/kata-image-pull)", guestPull.HelperPath);
        }
        if (!File.Exists(guestPull.CaBundlePath))
        {
            throw new FileNotFoundException($"the CA bundle {guestPull.CaBundlePath} does not exist (Debian's ca-certificates package has it)", guestPull.CaBundlePath);
        }
        tree.AddFile(GuestPullFiles.HelperImagePath, guestPull.HelperPath, 0x1ED);
        tree.AddDirectory("/etc/ssl");
        tree.AddDirectory("/etc/ssl/certs");
        tree.AddFile(GuestPullFiles.CaBundleImagePath, guestPull.CaBundlePath, 0x1A4);
        void Add(SharedLibrary library)
        {
            // By path, and by file name: libc's own DT_NEEDED on the interpreter may resolve to another path of it.
            if (!libraries.Any(l => l.Path == library.Path || System.IO.Path.GetFileName(l.Path) == library.Name))
            {
                libraries.Add(library);
            }
        }
        foreach (var library in resolver.Resolve(guestPull.HelperPath, GuestPullFiles.HelperImagePath))
        {
            Add(library);
        }
        var missing = new List<string>();
        foreach (string soname in GuestPullFiles.TlsLibraries)
        {
            var found = resolver.FindByName(soname);
            if (found is null)
            {
                missing.Add($"{soname} (opened by .NET for TLS)");
                continue;
            }
            Add(found);
            foreach (var library in resolver.Resolve(found.HostPath, found.Path))
            {
                Add(library);
            }
        }
        if (missing.Count > 0)
        {
            throw new SharedLibraryNotFoundException(guestPull.HelperPath, missing, resolver.SearchDirectories);
        }
    }

    /// <summary>A host program at <paramref name="imagePath"/>, with the libraries it needs that the image lacks so far.</summary>
    private static void AddTool(ImageTree tree, ElfDependencies resolver, string hostPath, string imagePath, List<SharedLibrary> libraries)
    {
        if (!File.Exists(hostPath))
        {
            throw new FileNotFoundException($"{hostPath} does not exist (Debian's e2fsprogs package has mke2fs)", hostPath);
        }
        tree.AddFile(imagePath, hostPath, 0x1ED);
        foreach (var library in resolver.Resolve(hostPath, imagePath))
        {
            if (!libraries.Any(l => l.Path == library.Path || System.IO.Path.GetFileName(l.Path) == library.Name))
            {
                libraries.Add(library);
            }
        }
    }

    /// <summary>
    /// A link per applet where busybox's <c>--list-full</c> puts it (/bin/ls, /usr/bin/env, /sbin/ip …):
    /// busybox's own shell finds its applets without them, but anything that runs a program by
    /// path (env, xargs, find -exec, a script's #!) needs the file. Paths the image already has are
    /// left alone. A busybox that cannot run here (another architecture) gets no links.
    /// </summary>
    private static async Task AddAppletLinksAsync(ImageTree tree, string busybox, CancellationToken cancellationToken)
    {
        Tools.ExternalToolResult list;
        try
        {
            list = await Tools.ExternalTool.RunAsync(busybox, ["--list-full"], cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (FileNotFoundException)
        {
            return;
        }
        if (list.ExitCode != 0)
        {
            return;
        }
        foreach (string line in list.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            bool inBinaryDirectory = line.StartsWith("bin/", StringComparison.Ordinal) || line.StartsWith("sbin/", StringComparison.Ordinal)
                || line.StartsWith("usr/bin/", StringComparison.Ordinal) || line.StartsWith("usr/sbin/", StringComparison.Ordinal);
            if (inBinaryDirectory && !line.Contains("..", StringComparison.Ordinal) && tree.Find(line) is null)
            {
                tree.AddSymlink(line, ImageLayout.Busybox);
            }
        }
    }

    /// <summary>Assembles the image and writes it to <paramref name="outputPath"/> (atomically: a temporary file renamed).</summary>
    public async Task<InitrdResult> BuildAsync(string outputPath, CancellationToken cancellationToken = default)
    {
        var tree = await AssembleAsync(cancellationToken).ConfigureAwait(false);
        string output = Path.GetFullPath(outputPath);
        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        string temporary = $"{output}.{Environment.ProcessId}.tmp";
        long uncompressed;
        int entries;
        try
        {
            await using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
            {
                (uncompressed, entries) = WriteArchive(tree, file, _options.Compression, _options.ModificationTime);
            }
            File.Move(temporary, output, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
        return new InitrdResult
        {
            Path = output,
            CompressedSize = new FileInfo(output).Length,
            UncompressedSize = uncompressed,
            Compression = _options.Compression,
            EntryCount = entries,
            KernelVersion = _options.Kernel?.KernelVersion,
            AgentSize = new FileInfo(_options.AgentPath).Length,
            InitHelperSize = _initHelperSize,
            Libraries = _libraries,
            LibrariesSize = _libraries.Sum(l => new FileInfo(l.HostPath).Length),
            Modules = _modules,
            OnDemandModules = _onDemand,
            Mke2fsSize = _mke2fsSize,
            ModulesSize = _modulesSize,
            BuiltInModules = _builtIn,
            BusyboxSize = _busyboxSize,
            GuestPullSize = _guestPullSize,
        };
    }

    /// <summary>Writes <paramref name="tree"/> as a (compressed) newc archive to <paramref name="output"/>, which is closed after. Returns the uncompressed size and entry count.</summary>
    public static (long UncompressedSize, int Entries) WriteArchive(ImageTree tree, Stream output, InitrdCompression compression, long modificationTime)
    {
        using var compressed = InitrdCompressor.Wrap(output, compression);
        using var writer = new CpioNewcWriter(compressed, modificationTime, leaveOpen: true);
        tree.WriteTo(writer);
        writer.Finish();
        return (writer.BytesWritten, writer.EntryCount);
    }

    private string BuildInfo(InitrdOptions options)
    {
        string agentHash;
        using (var agent = File.OpenRead(options.AgentPath))
        {
            agentHash = Convert.ToHexStringLower(SHA256.HashData(agent));
        }
        var text = new StringBuilder();
        void Line(string key, string value) => text.Append(key).Append('=').Append(value).Append('\n');
        text.Append("# KataAgent guest image, written by kata-rootfs\n");
        Line("format", "1");
        Line("builder", $"kata-rootfs {typeof(InitrdBuilder).Assembly.GetName().Version?.ToString(3) ?? "0"}");
        Line("built", DateTimeOffset.FromUnixTimeSeconds(options.ModificationTime).ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture));
        Line("agent", ImageTree.Normalize(options.AgentImagePath));
        Line("agent_size", new FileInfo(options.AgentPath).Length.ToString(CultureInfo.InvariantCulture));
        Line("agent_sha256", agentHash);
        if (options.InitHelperPath is not null)
        {
            Line("init_helper", options.InitHelperImagePath);
        }
        Line("libraries", string.Join(' ', _libraries.Select(l => l.Path)));
        if (options.GuestPull is not null)
        {
            Line("guest_pull", GuestPullFiles.HelperImagePath);
        }
        if (options.Kernel is { } kernel)
        {
            Line("kernel_version", kernel.KernelVersion);
            Line("modules_file", ImageLayout.ModulesList(kernel.KernelVersion));
            Line("modules", string.Join(' ', _modules.Select(m => m.Name)));
            Line("modules_builtin", string.Join(' ', _builtIn));
            Line("modules_on_demand", string.Join(' ', _onDemand.Select(m => m.Name)));
        }
        Line("busybox", options.BusyboxPath is null ? "" : ImageLayout.Busybox);
        Line("mke2fs", options.Mke2fsPath is null ? "" : ImageLayout.Mke2fs);
        Line("compression", options.Compression.ToString().ToLowerInvariant());
        return text.ToString();
    }
}
