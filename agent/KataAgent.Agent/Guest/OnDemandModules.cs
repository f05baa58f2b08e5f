using KataAgent.Agent.Interop;
using KataAgent.Linux.Interop;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Guest;

/// <summary>
/// Loads kernel modules the guest image carries but PID 1 does not load at boot (device-mapper, dm-crypt, the XTS
/// cipher mode, loop): only a pod that asks for what they do pays for them. The image's
/// <c>/lib/modules/KVER/modules.dep</c> (kata-rootfs writes one for every module it packs) gives each module's path
/// and dependencies; each is loaded with finit_module after its dependencies. A module the kernel already has
/// (built in, or loaded) is skipped; one the image lacks is left for the operation that needs it to report.
/// </summary>
public sealed class OnDemandModules(string modulesDirectory, string sysModuleDirectory, ILogger logger)
{
    private readonly object _gate = new();

    /// <summary>The running kernel's module tree in the image, and /sys/module.</summary>
    public OnDemandModules(ILogger logger)
        : this(Path.Combine("/lib/modules", KernelRelease()), "/sys/module", logger)
    {
    }

    /// <summary>Loads each of <paramref name="names"/> (module names, '-' or '_') with its dependencies, unless the kernel has it.</summary>
    public void Load(params string[] names)
    {
        lock (_gate)
        {
            Dictionary<string, (string Path, string[] Dependencies)>? dep = null;
            foreach (string name in names)
            {
                Load(Normalize(name), ref dep, []);
            }
        }
    }

    private void Load(string name, ref Dictionary<string, (string Path, string[] Dependencies)>? dep, HashSet<string> visiting)
    {
        if (Directory.Exists(Path.Combine(sysModuleDirectory, name)) || !visiting.Add(name))
        {
            return;
        }
        dep ??= ReadModulesDep();
        if (!dep.TryGetValue(name, out var module))
        {
            logger.LogDebug("module {Module} is neither loaded nor in {Directory}", name, modulesDirectory);
            return;
        }
        foreach (string dependency in module.Dependencies)
        {
            Load(dependency, ref dep, visiting);
        }
        int fd = Libc.Open(module.Path, Libc.O_RDONLY | Libc.O_CLOEXEC);
        if (fd < 0)
        {
            logger.LogWarning("{Error}", LinuxException.FromLastError($"open module {module.Path}").Message);
            return;
        }
        try
        {
            if (AgentLibc.FinitModule(fd) != 0)
            {
                var error = LinuxException.FromLastError($"finit_module {module.Path}");
                if (error.Errno != Errno.EEXIST)
                {
                    logger.LogWarning("{Error}", error.Message);
                }
                return;
            }
            logger.LogInformation("loaded kernel module {Module}", name);
        }
        finally
        {
            Libc.Close(fd);
        }
    }

    /// <summary>modules.dep: "kernel/…/a.ko: kernel/…/b.ko …" relative to the module directory, by module name.</summary>
    private Dictionary<string, (string Path, string[] Dependencies)> ReadModulesDep()
    {
        var modules = new Dictionary<string, (string, string[])>(StringComparer.Ordinal);
        string file = Path.Combine(modulesDirectory, "modules.dep");
        if (!File.Exists(file))
        {
            return modules;
        }
        foreach (string line in File.ReadLines(file))
        {
            int colon = line.IndexOf(':');
            if (colon <= 0)
            {
                continue;
            }
            string path = line[..colon].Trim();
            string[] dependencies = line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(ModuleName).ToArray();
            modules[ModuleName(path)] = (Path.Combine(modulesDirectory, path), dependencies);
        }
        return modules;
    }

    private static string ModuleName(string path)
    {
        string file = Path.GetFileName(path);
        int dot = file.IndexOf(".ko", StringComparison.Ordinal);
        return Normalize(dot > 0 ? file[..dot] : file);
    }

    private static string Normalize(string name) => name.Replace('-', '_');

    private static string KernelRelease()
    {
        try
        {
            return File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "unknown";
        }
    }
}
