using KataAgent.Rootfs.Tools;

namespace KataAgent.Rootfs.Kernel;

/// <summary>
/// A guest kernel: the bootable image (vmlinuz) and its module tree. Either Debian's cloud kernel, fetched
/// without installing anything (<see cref="ObtainDebianAsync"/>), or a kernel and module tree the user gives
/// (<see cref="FromPaths"/>).
/// </summary>
public sealed class KernelPackage
{
    /// <summary>The metapackage that always points at the current cloud kernel.</summary>
    public const string DebianCloudMetaPackage = "linux-image-cloud-amd64";

    private const string CompleteMarker = ".complete";
    private const string CurrentFileSuffix = ".current";

    private KernelPackage(string kernelVersion, string vmlinuzPath, string modulesDirectory, string? packageName, bool downloaded)
    {
        KernelVersion = kernelVersion;
        VmlinuzPath = vmlinuzPath;
        ModulesDirectory = modulesDirectory;
        PackageName = packageName;
        Downloaded = downloaded;
    }

    /// <summary>The kernel release (<c>uname -r</c> in the guest), e.g. <c>6.1.0-56-cloud-amd64</c>.</summary>
    public string KernelVersion { get; }

    /// <summary>The kernel image to hand to qemu's <c>-kernel</c>.</summary>
    public string VmlinuzPath { get; }

    /// <summary>The module tree, <c>…/lib/modules/KVER</c>.</summary>
    public string ModulesDirectory { get; }

    /// <summary>The versioned Debian package it came from (e.g. <c>linux-image-6.1.0-56-cloud-amd64</c>), or null for a user-given kernel.</summary>
    public string? PackageName { get; }

    /// <summary>Whether this call downloaded and unpacked the package (false on a cache hit or a user-given kernel).</summary>
    public bool Downloaded { get; }

    /// <summary><c>$XDG_CACHE_HOME/kataagent/kernel</c>, or <c>~/.cache/kataagent/kernel</c>.</summary>
    public static string DefaultCacheDirectory
    {
        get
        {
            string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            string cache = !string.IsNullOrEmpty(xdg) && Path.IsPathRooted(xdg)
                ? xdg
                : Path.Join(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            return Path.Join(cache, "kataagent", "kernel");
        }
    }

    /// <summary>Reads the modules of this kernel.</summary>
    public Task<KernelModules> LoadModulesAsync(CancellationToken cancellationToken = default) =>
        KernelModules.LoadAsync(ModulesDirectory, KernelVersion, cancellationToken);

    /// <summary>
    /// A user-given kernel image and module tree. <paramref name="modulesDirectory"/> is either the tree itself
    /// (<c>…/lib/modules/KVER</c>) or a root that holds exactly one <c>lib/modules/KVER</c> (or <c>usr/lib/modules/KVER</c>).
    /// </summary>
    public static KernelPackage FromPaths(string vmlinuzPath, string modulesDirectory)
    {
        if (!File.Exists(vmlinuzPath))
        {
            throw new KernelPackageException($"kernel image {vmlinuzPath} does not exist");
        }
        string tree = FindModuleTree(Path.GetFullPath(modulesDirectory))
            ?? throw new KernelPackageException($"{modulesDirectory} is not a module tree: expected modules.dep, modules.order or kernel/ in it, or a single lib/modules/KVER below it");
        return new KernelPackage(Path.GetFileName(tree), Path.GetFullPath(vmlinuzPath), tree, null, false);
    }

    /// <summary>
    /// Debian's cloud kernel, from the cache or fetched into it: <c>apt-cache depends</c> names the versioned
    /// package behind <paramref name="metaPackage"/>, <c>apt-get download</c> fetches its .deb (~27 MB), <c>dpkg -x</c>
    /// unpacks it (no root, nothing installed), and a modules.dep is generated (the .deb has none: depmod runs
    /// in its postinst). A cached package is used as is, with no download; if apt knows no candidate (no
    /// <c>apt-get update</c> yet, or not Debian) the package last resolved into this cache is used.
    /// </summary>
    /// <param name="cacheDirectory">Where packages are unpacked; <see cref="DefaultCacheDirectory"/> when null.</param>
    /// <param name="metaPackage">The metapackage to follow, or a versioned <c>linux-image-KVER</c> package itself.</param>
    public static async Task<KernelPackage> ObtainDebianAsync(string? cacheDirectory = null, string metaPackage = DebianCloudMetaPackage, CancellationToken cancellationToken = default)
    {
        string cache = Path.GetFullPath(cacheDirectory ?? DefaultCacheDirectory);
        Directory.CreateDirectory(cache);
        string? package = await ResolveVersionedPackageAsync(metaPackage, cancellationToken).ConfigureAwait(false);
        string currentFile = Path.Join(cache, metaPackage + CurrentFileSuffix);
        if (package is null)
        {
            package = File.Exists(currentFile) ? (await File.ReadAllTextAsync(currentFile, cancellationToken).ConfigureAwait(false)).Trim() : null;
            if (string.IsNullOrEmpty(package) || !File.Exists(Path.Join(cache, package, CompleteMarker)))
            {
                throw new KernelPackageException($"apt knows no package behind '{metaPackage}' and {cache} holds none: run 'apt-get update' (Debian only), or pass a kernel and module tree of your own");
            }
        }

        await using var cacheLock = await AcquireLockAsync(cache, cancellationToken).ConfigureAwait(false);
        string packageDirectory = Path.Join(cache, package);
        bool downloaded = false;
        if (!File.Exists(Path.Join(packageDirectory, CompleteMarker)))
        {
            await DownloadAndUnpackAsync(package, packageDirectory, cancellationToken).ConfigureAwait(false);
            downloaded = true;
        }
        string? previous = File.Exists(currentFile) ? (await File.ReadAllTextAsync(currentFile, cancellationToken).ConfigureAwait(false)).Trim() : null;
        await File.WriteAllTextAsync(currentFile, package + "\n", cancellationToken).ConfigureAwait(false);
        if (downloaded && !string.IsNullOrEmpty(previous) && previous != package && previous is not ("." or "..") && !previous.Contains('/', StringComparison.Ordinal)
            && Directory.Exists(Path.Join(cache, previous)))
        {
            // Debian moved the metapackage to a newer kernel: the one it replaces (~100 MB unpacked) goes.
            Directory.Delete(Path.Join(cache, previous), recursive: true);
        }
        return FromUnpacked(package, Path.Join(packageDirectory, "root"), downloaded);
    }

    /// <summary>
    /// The versioned kernel package in <c>apt-cache depends</c> output: the first <c>Depends: linux-image-…</c>
    /// that is not a virtual package. Null if there is none.
    /// </summary>
    public static string? ParseAptCacheDepends(string output)
    {
        foreach (string rawLine in output.Split('\n'))
        {
            string line = rawLine.Trim().TrimStart('|');
            if (!line.StartsWith("Depends:", StringComparison.Ordinal))
            {
                continue;
            }
            string name = line["Depends:".Length..].Trim();
            if (name.StartsWith("linux-image-", StringComparison.Ordinal) && !name.StartsWith('<'))
            {
                return name.Split(' ', 2)[0];
            }
        }
        return null;
    }

    private static async Task<string?> ResolveVersionedPackageAsync(string metaPackage, CancellationToken cancellationToken)
    {
        if (!ExternalTool.IsOnPath("apt-cache"))
        {
            return null;
        }
        var result = await ExternalTool.RunAsync("apt-cache", ["depends", metaPackage], null, cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            return null;
        }
        string? versioned = ParseAptCacheDepends(result.StandardOutput);
        if (versioned is null && result.StandardOutput.TrimStart().StartsWith(metaPackage, StringComparison.Ordinal)
            && metaPackage.StartsWith("linux-image-", StringComparison.Ordinal) && char.IsDigit(metaPackage["linux-image-".Length]))
        {
            return metaPackage; // already a versioned package
        }
        return versioned;
    }

    private static async Task DownloadAndUnpackAsync(string package, string packageDirectory, CancellationToken cancellationToken)
    {
        foreach (string tool in (string[])["apt-get", "dpkg"])
        {
            if (!ExternalTool.IsOnPath(tool))
            {
                throw new KernelPackageException($"'{tool}' is not installed: fetching Debian's kernel needs apt and dpkg; pass a kernel and module tree of your own instead");
            }
        }
        if (Directory.Exists(packageDirectory))
        {
            Directory.Delete(packageDirectory, recursive: true); // a previous, interrupted attempt
        }
        string download = Path.Join(packageDirectory, "download");
        string unpacking = Path.Join(packageDirectory, "root.partial");
        Directory.CreateDirectory(download);
        // apt's download sandbox user (_apt) cannot write into root's home; without this apt only warns, but says so loudly.
        string[] sandbox = Environment.UserName == "root" ? ["-o", "APT::Sandbox::User=root"] : [];
        var fetched = await ExternalTool.RunAsync("apt-get", [.. sandbox, "download", package], download, cancellationToken).ConfigureAwait(false);
        string? deb = Directory.EnumerateFiles(download, "*.deb").FirstOrDefault();
        if (!fetched.Succeeded || deb is null)
        {
            throw new KernelPackageException($"apt-get download {package} failed (exit {fetched.ExitCode}): {fetched.Diagnostics} — an outdated package list needs 'apt-get update'");
        }
        var unpacked = await ExternalTool.RunAsync("dpkg", ["-x", deb, unpacking], null, cancellationToken).ConfigureAwait(false);
        if (!unpacked.Succeeded)
        {
            throw new KernelPackageException($"dpkg -x {deb} failed (exit {unpacked.ExitCode}): {unpacked.Diagnostics}");
        }
        string tree = FindModuleTree(unpacking)
            ?? throw new KernelPackageException($"{package} holds no lib/modules/KVER: is it a kernel image package?");
        if (!File.Exists(Path.Join(tree, "modules.dep")))
        {
            await ModulesDepGenerator.WriteAsync(tree, cancellationToken).ConfigureAwait(false);
        }
        Directory.Move(unpacking, Path.Join(packageDirectory, "root"));
        Directory.Delete(download, recursive: true); // the unpacked tree is what is kept
        await File.WriteAllTextAsync(Path.Join(packageDirectory, CompleteMarker), Path.GetFileName(deb) + "\n", cancellationToken).ConfigureAwait(false);
    }

    private static KernelPackage FromUnpacked(string package, string root, bool downloaded)
    {
        string tree = FindModuleTree(root) ?? throw new KernelPackageException($"{root} holds no lib/modules/KVER: remove {Path.GetDirectoryName(root)} and try again");
        string version = Path.GetFileName(tree);
        string vmlinuz = Path.Join(root, "boot", "vmlinuz-" + version);
        if (!File.Exists(vmlinuz))
        {
            throw new KernelPackageException($"{package} holds no boot/vmlinuz-{version}");
        }
        return new KernelPackage(version, vmlinuz, tree, package, downloaded);
    }

    private static string? FindModuleTree(string directory)
    {
        if (!Directory.Exists(directory))
        {
            return null;
        }
        if (File.Exists(Path.Join(directory, "modules.dep")) || File.Exists(Path.Join(directory, "modules.order")) || Directory.Exists(Path.Join(directory, "kernel")))
        {
            return directory.TrimEnd('/');
        }
        foreach (string modules in (string[])[Path.Join(directory, "lib", "modules"), Path.Join(directory, "usr", "lib", "modules")])
        {
            if (Directory.Exists(modules))
            {
                var versions = Directory.GetDirectories(modules);
                if (versions.Length == 1)
                {
                    return versions[0];
                }
            }
        }
        return null;
    }

    // One download at a time per cache, across processes (tests of several assemblies may ask together).
    private static async Task<FileStream> AcquireLockAsync(string cache, CancellationToken cancellationToken)
    {
        string path = Path.Join(cache, ".lock");
        var deadline = DateTime.UtcNow.AddMinutes(10);
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(200, cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
