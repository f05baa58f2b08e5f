using FluentAssertions;
using KataAgent.Rootfs.Elf;
using Xunit;

namespace KataAgent.Rootfs.Tests.Elf;

public sealed class ElfDependenciesTests
{
    [Fact]
    public async Task The_agent_needs_what_ldd_says_libc_libm_and_the_loader()
    {
        string agent = RepoPaths.AgentBinary;

        var libraries = new ElfDependencies().Resolve(agent);

        libraries[0].Should().Be(new SharedLibrary("/lib64/ld-linux-x86-64.so.2", "/lib64/ld-linux-x86-64.so.2", "/lib64/ld-linux-x86-64.so.2", IsInterpreter: true));
        libraries.Select(l => l.Name).Should().Contain(["libc.so.6", "libm.so.6"]);
        await ShouldMatchLdd(agent, libraries);
    }

    public static TheoryData<string> HostBinaries()
    {
        // Binaries with longer, transitive dependency chains (libstdc++ → libgcc_s, gnutls → nettle, …).
        var data = new TheoryData<string>();
        foreach (string path in (string[])["/usr/bin/qemu-system-x86_64", "/usr/share/dotnet/dotnet", "/usr/bin/cpio", "/usr/bin/clang", "/usr/bin/apt-get"])
        {
            if (File.Exists(path))
            {
                data.Add(path);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(HostBinaries))]
    public async Task Host_binaries_resolve_exactly_as_ldd_resolves_them(string binary)
    {
        var libraries = new ElfDependencies().Resolve(binary);

        await ShouldMatchLdd(binary, libraries);
    }

    [Fact]
    public void Static_busybox_needs_nothing()
    {
        new ElfDependencies().Resolve(RepoPaths.Busybox).Should().BeEmpty();
    }

    [Fact]
    public async Task RUNPATH_and_RPATH_with_ORIGIN_are_followed_like_ld_so()
    {
        string clang = HostTools.Require("clang", "clang");
        using var temp = new TempDirectory();
        string libDirectory = temp.CreateDirectory("app/lib");
        string privateDirectory = temp.CreateDirectory("app/private");
        await File.WriteAllTextAsync(temp.File("inner.c"), "int inner(void) { return 41; }\n");
        await File.WriteAllTextAsync(temp.File("outer.c"), "int inner(void);\nint outer(void) { return inner() + 1; }\n");
        await File.WriteAllTextAsync(temp.File("main.c"), "int outer(void);\nint main(void) { return outer() == 42 ? 0 : 1; }\n");
        // libinner lives in private/, found through libouter's own RUNPATH ($ORIGIN/../private).
        await HostTools.RunAsync(clang, ["-shared", "-fPIC", "-o", Path.Join(privateDirectory, "libinner.so"), temp.File("inner.c")]);
        await HostTools.RunAsync(clang, ["-shared", "-fPIC", "-o", Path.Join(libDirectory, "libouter.so"), temp.File("outer.c"),
            "-L" + privateDirectory, "-linner", "-Wl,--enable-new-dtags,-rpath,$ORIGIN/../private"]);
        // The executables find libouter through $ORIGIN/lib: one with DT_RUNPATH, one with the old DT_RPATH.
        string withRunpath = temp.File("app/main-runpath");
        string withRpath = temp.File("app/main-rpath");
        await HostTools.RunAsync(clang, ["-o", withRunpath, temp.File("main.c"), "-L" + libDirectory, "-louter", "-Wl,--enable-new-dtags,-rpath,$ORIGIN/lib"]);
        await HostTools.RunAsync(clang, ["-o", withRpath, temp.File("main.c"), "-L" + libDirectory, "-louter", "-Wl,--disable-new-dtags,-rpath,$ORIGIN/lib"]);
        (await HostTools.RunAsync(withRunpath, [])).ExitCode.Should().Be(0);

        ElfFile.Read(withRunpath).RunPath.Should().Equal("$ORIGIN/lib");
        ElfFile.Read(withRpath).RPath.Should().Equal("$ORIGIN/lib");
        ElfFile.Read(withRpath).RunPath.Should().BeEmpty();
        foreach (string binary in (string[])[withRunpath, withRpath])
        {
            var libraries = new ElfDependencies().Resolve(binary);
            libraries.Should().Contain(l => l.Name == "libouter.so" && l.Path == Path.Join(libDirectory, "libouter.so"));
            libraries.Should().Contain(l => l.Name == "libinner.so" && l.Path == Path.Join(privateDirectory, "libinner.so"));
            await ShouldMatchLdd(binary, libraries);
        }
    }

    [Fact]
    public void A_sysroot_gives_image_paths_and_host_paths_below_it()
    {
        using var temp = new TempDirectory();
        string root = temp.CreateDirectory("root");
        foreach (string path in (string[])["/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/libc.so.6", "/lib/x86_64-linux-gnu/libm.so.6"])
        {
            Directory.CreateDirectory(Path.Join(root, Path.GetDirectoryName(path)));
            File.Copy(path, Path.Join(root, path));
        }

        var libraries = new ElfDependencies(sysroot: root).Resolve(RepoPaths.AgentBinary, "/init");

        libraries.Select(l => l.Path).Should().BeEquivalentTo("/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/libc.so.6", "/lib/x86_64-linux-gnu/libm.so.6");
        libraries.Should().OnlyContain(l => l.HostPath == Path.Join(root, l.Path));
    }

    [Fact]
    public void A_missing_library_is_named_with_who_needs_it()
    {
        using var temp = new TempDirectory();
        string root = temp.CreateDirectory("empty-root");
        Directory.CreateDirectory(Path.Join(root, "lib64"));
        File.Copy("/lib64/ld-linux-x86-64.so.2", Path.Join(root, "lib64/ld-linux-x86-64.so.2"));

        var resolve = () => new ElfDependencies(sysroot: root).Resolve(RepoPaths.AgentBinary, "/init");

        resolve.Should().Throw<SharedLibraryNotFoundException>()
            .Where(e => e.Missing.Contains("libc.so.6 (needed by /init)") && e.Missing.Contains("libm.so.6 (needed by /init)"))
            .WithMessage("*libc.so.6*not found in /lib/x86_64-linux-gnu*");
    }

    [Fact]
    public void A_missing_interpreter_is_an_error()
    {
        using var temp = new TempDirectory();
        var resolve = () => new ElfDependencies(sysroot: temp.Path).Resolve(RepoPaths.AgentBinary);
        resolve.Should().Throw<SharedLibraryNotFoundException>().WithMessage("*ld-linux-x86-64.so.2 (the interpreter)*");
    }

    /// <summary>ldd's "name => path" lines and the interpreter line must be exactly what we resolved.</summary>
    private static async Task ShouldMatchLdd(string binary, IReadOnlyList<SharedLibrary> libraries)
    {
        var ldd = await HostTools.RunAsync(HostTools.Require("ldd", "libc-bin"), [binary]);
        var expected = new Dictionary<string, string>();
        string? interpreter = null;
        foreach (string line in ldd.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string[] parts = line.Split(' ');
            if (line.Contains(" => ", StringComparison.Ordinal))
            {
                expected[parts[0]] = Path.GetFullPath(parts[2]); // ld.so prints $ORIGIN/../x unnormalized
            }
            else if (parts[0].StartsWith('/'))
            {
                interpreter = parts[0];
            }
            // else linux-vdso.so.1: provided by the kernel
        }

        libraries.Where(l => !l.IsInterpreter).ToDictionary(l => l.Name, l => l.Path).Should().BeEquivalentTo(expected, $"ldd {binary} says:\n{ldd.StandardOutput}");
        libraries.SingleOrDefault(l => l.IsInterpreter)?.Path.Should().Be(interpreter);
        libraries.Select(l => l.Path).Should().OnlyHaveUniqueItems();
    }
}
