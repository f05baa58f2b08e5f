namespace KataAgent.Rootfs.Elf;

/// <summary>
/// Resolves the shared objects an ELF binary needs, transitively, the way ld.so (and so ldd) finds them,
/// by reading the ELF headers itself — no ldd, nothing executed. For each object, breadth first, each
/// <c>DT_NEEDED</c> name is satisfied by an object already loaded under that name or soname (the
/// interpreter included: glibc's <c>libc.so.6</c> needs <c>ld-linux-x86-64.so.2</c>, which is the
/// interpreter), else searched in <c>DT_RPATH</c> (of the object, then of the executable; only when the
/// object has no <c>DT_RUNPATH</c>), then <c>DT_RUNPATH</c>, then the default directories.
/// <c>$ORIGIN</c> expands to the directory of the object that names the path. A candidate counts only if
/// it is ELF of the same class and machine as the binary.
/// </summary>
/// <remarks>
/// Libraries that a program <c>dlopen</c>s at run time (NSS modules, OpenSSL, ICU) are invisible here, as
/// they are to ldd. <c>LD_LIBRARY_PATH</c> and <c>ld.so.cache</c> are ignored on purpose: the image has neither.
/// </remarks>
public sealed class ElfDependencies
{
    /// <summary>The directories searched after RPATH/RUNPATH, in order (Debian x86-64 multiarch first).</summary>
    public static IReadOnlyList<string> DefaultSearchDirectories { get; } =
        ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/lib", "/usr/lib64", "/usr/lib"];

    private readonly string _sysroot;

    /// <param name="searchDirectories">Default library directories, as paths inside the image (and under <paramref name="sysroot"/> on the host).</param>
    /// <param name="sysroot">The host directory that stands for the image's <c>/</c>; <c>/</c> to copy from the build host itself.</param>
    public ElfDependencies(IEnumerable<string>? searchDirectories = null, string sysroot = "/")
    {
        SearchDirectories = (searchDirectories ?? DefaultSearchDirectories).ToArray();
        _sysroot = Path.GetFullPath(sysroot);
    }

    /// <summary>The default directories this resolver searches.</summary>
    public IReadOnlyList<string> SearchDirectories { get; }

    /// <summary>
    /// The interpreter (first, if any) and every library <paramref name="binaryPath"/> needs, in load order,
    /// each once. Empty for a static binary.
    /// </summary>
    /// <param name="binaryPath">The binary on the host.</param>
    /// <param name="imagePath">Where the binary will sit in the image (for <c>$ORIGIN</c>); defaults to its host path.</param>
    /// <exception cref="SharedLibraryNotFoundException">Some library or the interpreter is in no search directory.</exception>
    /// <exception cref="ElfFormatException">The binary or a library is not valid ELF.</exception>
    public IReadOnlyList<SharedLibrary> Resolve(string binaryPath, string? imagePath = null)
    {
        var executable = ElfFile.Read(binaryPath);
        imagePath ??= Path.GetFullPath(binaryPath);
        var result = new List<SharedLibrary>();
        var missing = new List<string>();
        // Name (as needed, and soname) -> loaded. ld.so matches a DT_NEEDED against both.
        var loadedByName = new Dictionary<string, SharedLibrary>(StringComparer.Ordinal);
        var loadedByPath = new HashSet<string>(StringComparer.Ordinal);

        if (executable.Interpreter is { } interpreterPath)
        {
            string host = HostPath(interpreterPath);
            if (!IsCompatible(host, executable, out var interpreterElf))
            {
                missing.Add($"{interpreterPath} (the interpreter)");
            }
            else
            {
                var interpreter = new SharedLibrary(interpreterPath, interpreterPath, host, IsInterpreter: true);
                result.Add(interpreter);
                loadedByPath.Add(interpreterPath);
                loadedByName[Path.GetFileName(interpreterPath)] = interpreter;
                if (interpreterElf!.SoName is { } soName)
                {
                    loadedByName[soName] = interpreter;
                }
            }
        }

        var queue = new Queue<(ElfFile Elf, string ImagePath)>();
        queue.Enqueue((executable, imagePath));
        while (queue.Count > 0)
        {
            var (requester, requesterImagePath) = queue.Dequeue();
            foreach (string needed in requester.Needed)
            {
                if (loadedByName.ContainsKey(needed))
                {
                    continue;
                }
                var found = Find(needed, requester, requesterImagePath, executable, imagePath);
                if (found is null)
                {
                    missing.Add($"{needed} (needed by {requesterImagePath})");
                    loadedByName[needed] = new SharedLibrary(needed, "", ""); // report once
                    continue;
                }
                var (path, elf) = found.Value;
                if (loadedByPath.Contains(path))
                {
                    loadedByName[needed] = result.First(l => l.Path == path);
                    continue;
                }
                var library = new SharedLibrary(needed, path, HostPath(path));
                result.Add(library);
                loadedByPath.Add(path);
                loadedByName[needed] = library;
                if (elf.SoName is { } soName)
                {
                    loadedByName.TryAdd(soName, library);
                }
                queue.Enqueue((elf, path));
            }
        }

        if (missing.Count > 0)
        {
            throw new SharedLibraryNotFoundException(binaryPath, missing, SearchDirectories);
        }
        return result;
    }

    /// <summary>
    /// A library a program opens by <paramref name="soname"/> at run time (dlopen): the first of that name in the
    /// default directories, as ld.so searches them; null when there is none.
    /// </summary>
    public SharedLibrary? FindByName(string soname)
    {
        foreach (string directory in SearchDirectories)
        {
            string path = Path.Join(directory, soname);
            string host = HostPath(path);
            if (File.Exists(host))
            {
                ElfFile.Read(host);
                return new SharedLibrary(soname, path, host);
            }
        }
        return null;
    }

    private (string Path, ElfFile Elf)? Find(string needed, ElfFile requester, string requesterImagePath, ElfFile executable, string executableImagePath)
    {
        if (needed.Contains('/', StringComparison.Ordinal))
        {
            string path = needed.StartsWith('/') ? needed : Path.GetFullPath(needed, Path.GetDirectoryName(requesterImagePath)!);
            return IsCompatible(HostPath(path), executable, out var elf) ? (path, elf!) : null;
        }
        var directories = new List<string>();
        if (requester.RunPath.Count == 0)
        {
            directories.AddRange(Expand(requester.RPath, requesterImagePath));
            if (!ReferenceEquals(requester, executable) && executable.RunPath.Count == 0)
            {
                directories.AddRange(Expand(executable.RPath, executableImagePath));
            }
        }
        directories.AddRange(Expand(requester.RunPath, requesterImagePath));
        directories.AddRange(SearchDirectories);
        foreach (string directory in directories)
        {
            string path = Path.Join(directory, needed);
            if (IsCompatible(HostPath(path), executable, out var elf))
            {
                return (path, elf!);
            }
        }
        return null;
    }

    private static IEnumerable<string> Expand(IReadOnlyList<string> directories, string objectImagePath)
    {
        string origin = Path.GetDirectoryName(objectImagePath) ?? "/";
        foreach (string directory in directories)
        {
            string expanded = directory
                .Replace("${ORIGIN}", origin, StringComparison.Ordinal).Replace("$ORIGIN", origin, StringComparison.Ordinal)
                .Replace("${LIB}", "lib/x86_64-linux-gnu", StringComparison.Ordinal).Replace("$LIB", "lib/x86_64-linux-gnu", StringComparison.Ordinal)
                .Replace("${PLATFORM}", "x86_64", StringComparison.Ordinal).Replace("$PLATFORM", "x86_64", StringComparison.Ordinal);
            if (expanded.StartsWith('/'))
            {
                yield return Path.GetFullPath(expanded);
            }
        }
    }

    private bool IsCompatible(string hostPath, ElfFile executable, out ElfFile? elf)
    {
        elf = null;
        if (!File.Exists(hostPath) || !ElfFile.HasElfMagic(hostPath))
        {
            return false;
        }
        try
        {
            elf = ElfFile.Read(hostPath);
        }
        catch (ElfFormatException)
        {
            return false;
        }
        return elf.Is64Bit == executable.Is64Bit && elf.Machine == executable.Machine && elf.IsLittleEndian == executable.IsLittleEndian;
    }

    private string HostPath(string imagePath) =>
        _sysroot == "/" ? imagePath : Path.Join(_sysroot, imagePath.TrimStart('/'));
}
