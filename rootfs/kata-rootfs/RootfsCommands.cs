using System.CommandLine;
using KataAgent.Rootfs.Busybox;
using KataAgent.Rootfs.Compression;
using KataAgent.Rootfs.Elf;
using KataAgent.Rootfs.Image;
using KataAgent.Rootfs.Kernel;

namespace KataAgent.RootfsCli;

/// <summary>kata-rootfs's commands: <c>build</c> (kernel + initrd), <c>kernel</c> (fetch the kernel, print where it is) and
/// <c>busybox-rootfs</c> (a container rootfs, kactl run's default).</summary>
public static class RootfsCommands
{
    /// <summary>Exit codes: 0 success, 1 failure, 2 bad usage.</summary>
    public const int Success = 0, Failed = 1, Usage = 2;

    /// <summary>Parses and runs; returns the exit code.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        var root = Build();
        var parseResult = root.Parse(args);
        if (parseResult.Errors.Count > 0)
        {
            foreach (var error in parseResult.Errors)
            {
                await Console.Error.WriteLineAsync($"kata-rootfs: {error.Message}").ConfigureAwait(false);
            }
            await Console.Error.WriteLineAsync("Try 'kata-rootfs --help' for usage.").ConfigureAwait(false);
            return Usage;
        }
        return await parseResult.InvokeAsync().ConfigureAwait(false);
    }

    /// <summary>The command tree.</summary>
    public static RootCommand Build()
    {
        var root = new RootCommand("kata-rootfs: build the guest kernel and initrd in which kata-agent runs as PID 1.");

        var kernelCache = new Option<string?>("--kernel-cache") { Description = $"Where Debian's cloud kernel is fetched and unpacked (default {KernelPackage.DefaultCacheDirectory})" };
        var kernel = new Option<string?>("--kernel") { Description = "Use this kernel image instead of Debian's cloud kernel (needs --kernel-modules)" };
        var kernelModules = new Option<string?>("--kernel-modules") { Description = "The module tree of --kernel: lib/modules/KVER, or a root holding one" };

        var agent = new Option<string>("--agent") { Description = "The agent binary, e.g. out/kata-agent", Required = true };
        var initHelper = new Option<string?>("--init-helper") { Description = $"The agent's spawn-chain helper, put beside the agent (default: {InitrdOptions.InitHelperFileName} next to --agent)" };
        var output = new Option<string>("--out") { Description = "The initrd to write, e.g. out/initrd.img", Required = true };
        var kernelOut = new Option<string?>("--kernel-out") { Description = "Copy the kernel image here, e.g. out/vmlinuz" };
        var busybox = new Option<string?>("--busybox") { Description = "Put this (static) busybox at /bin/busybox with /bin/sh, for the debug console" };
        var modules = new Option<string?>("--modules") { Description = $"Comma-separated modules to load (dependencies are added); default {string.Join(',', KernelModules.DefaultSet)}; 'none' for none" };
        var guestPull = new Option<bool>("--guest-pull") { Description = "Add guest pull: kata-image-pull (next to --agent unless --image-pull names it), the OpenSSL libraries TLS loads, and a CA bundle" };
        var imagePull = new Option<string?>("--image-pull") { Description = "The guest pull helper for --guest-pull (default: kata-image-pull next to --agent)" };
        var caBundle = new Option<string?>("--ca-bundle") { Description = $"The CA bundle for --guest-pull (default {GuestPullFiles.DefaultCaBundle})" };
        var compression = new Option<string>("--compression") { Description = "none (the default: the fastest boot) or gzip (a smaller file)", DefaultValueFactory = _ => "none" };

        var build = new Command("build", "Build the initrd (agent as /init, its libraries, kernel modules) and copy the kernel next to it; print their sizes");
        foreach (var option in (Option[])[agent, initHelper, output, kernelOut, kernelCache, kernel, kernelModules, busybox, modules, guestPull, imagePull, caBundle, compression])
        {
            build.Add(option);
        }
        build.SetAction(Guard(async (parseResult, cancellationToken) =>
        {
            var package = await ObtainKernelAsync(parseResult.GetValue(kernel), parseResult.GetValue(kernelModules), parseResult.GetValue(kernelCache), cancellationToken).ConfigureAwait(false);
            var tree = await package.LoadModulesAsync(cancellationToken).ConfigureAwait(false);
            string? moduleList = parseResult.GetValue(modules);
            IReadOnlyList<string> names = moduleList is null ? KernelModules.DefaultSet
                : moduleList.Trim() == "none" ? []
                : moduleList.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            string agentPath = parseResult.GetValue(agent)!;
            if (!parseResult.GetValue(guestPull) && (parseResult.GetValue(imagePull) is not null || parseResult.GetValue(caBundle) is not null))
            {
                throw new ArgumentException("--image-pull and --ca-bundle go with --guest-pull");
            }
            var guestPullFiles = parseResult.GetValue(guestPull)
                ? new GuestPullFiles
                {
                    HelperPath = parseResult.GetValue(imagePull) ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(agentPath))!, "kata-image-pull"),
                    CaBundlePath = parseResult.GetValue(caBundle) ?? GuestPullFiles.DefaultCaBundle,
                }
                : null;
            var options = new InitrdOptions
            {
                AgentPath = agentPath,
                InitHelperPath = parseResult.GetValue(initHelper) ?? InitrdOptions.InitHelperBeside(agentPath),
                GuestPull = guestPullFiles,
                Kernel = tree,
                ModuleNames = names,
                BusyboxPath = parseResult.GetValue(busybox),
                Compression = InitrdCompressor.Parse(parseResult.GetValue(compression)!),
            };
            var result = await new InitrdBuilder(options).BuildAsync(parseResult.GetValue(output)!, cancellationToken).ConfigureAwait(false);
            string vmlinuz = package.VmlinuzPath;
            if (parseResult.GetValue(kernelOut) is { } kernelTarget)
            {
                vmlinuz = Path.GetFullPath(kernelTarget);
                Directory.CreateDirectory(Path.GetDirectoryName(vmlinuz)!);
                File.Copy(package.VmlinuzPath, vmlinuz, overwrite: true);
            }
            Console.Out.Write(DescribeKernel(package, vmlinuz));
            Console.Out.Write(result.Describe());
            return Success;
        }));

        var kernelCommand = new Command("kernel", "Fetch Debian's cloud kernel into the cache (no-op on a cache hit) and print the kernel image and module tree");
        kernelCommand.Add(kernelCache);
        kernelCommand.SetAction(Guard(async (parseResult, cancellationToken) =>
        {
            var package = await KernelPackage.ObtainDebianAsync(parseResult.GetValue(kernelCache), cancellationToken: cancellationToken).ConfigureAwait(false);
            Console.Out.Write(DescribeKernel(package, package.VmlinuzPath));
            Console.Out.WriteLine($"modules {package.ModulesDirectory}");
            return Success;
        }));

        var rootfsOut = new Option<string>("--out") { Description = "The rootfs directory to create (must not exist), e.g. out/rootfs", Required = true };
        var rootfsBusybox = new Option<string>("--busybox") { Description = "The static busybox to copy in", DefaultValueFactory = _ => BusyboxRootfs.DefaultBusyboxPath };
        var busyboxRootfs = new Command("busybox-rootfs", "Make a container root filesystem from a static busybox: /bin/busybox, a link per applet, /etc/passwd and group, /proc /sys /dev /tmp … (kactl run's default rootfs)")
        {
            rootfsOut,
            rootfsBusybox,
        };
        busyboxRootfs.SetAction(Guard(async (parseResult, cancellationToken) =>
        {
            string directory = Path.GetFullPath(parseResult.GetValue(rootfsOut)!);
            int applets = await BusyboxRootfs.CreateAsync(directory, parseResult.GetValue(rootfsBusybox)!, cancellationToken).ConfigureAwait(false);
            Console.Out.WriteLine($"rootfs {directory}: busybox with {applets} applets");
            return Success;
        }));

        root.Add(build);
        root.Add(kernelCommand);
        root.Add(busyboxRootfs);
        return root;
    }

    private static async Task<KernelPackage> ObtainKernelAsync(string? kernel, string? modules, string? cache, CancellationToken cancellationToken)
    {
        if (kernel is null != modules is null)
        {
            throw new ArgumentException("--kernel and --kernel-modules go together: a kernel image needs its own module tree");
        }
        return kernel is not null
            ? KernelPackage.FromPaths(kernel, modules!)
            : await KernelPackage.ObtainDebianAsync(cache, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    private static string DescribeKernel(KernelPackage package, string vmlinuz)
    {
        string origin = package.PackageName is null ? "given" : $"{package.PackageName}, {(package.Downloaded ? "downloaded" : "cached")}";
        return $"vmlinuz {vmlinuz}: {InitrdResult.FormatSize(new FileInfo(vmlinuz).Length)} (kernel {package.KernelVersion}, {origin})\n";
    }

    private static Func<ParseResult, CancellationToken, Task<int>> Guard(Func<ParseResult, CancellationToken, Task<int>> action) =>
        async (parseResult, cancellationToken) =>
        {
            try
            {
                return await action(parseResult, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is KernelPackageException or KernelModuleException or ElfFormatException or SharedLibraryNotFoundException
                                          or IOException or ArgumentException or UnauthorizedAccessException or InvalidOperationException)
            {
                await Console.Error.WriteLineAsync($"kata-rootfs: {e.Message}").ConfigureAwait(false);
                return Failed;
            }
        };
}
