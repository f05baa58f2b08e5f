using System.Globalization;

namespace KataAgent.VmTests.Containerd;

/// <summary>A VM's boot size and hot-plug room as its qemu command line states them (<c>-smp</c>, <c>-m</c> as QemuVm writes them).</summary>
/// <param name="Cpus">vCPUs at boot.</param>
/// <param name="MaxCpus">vCPUs it may grow to (= <paramref name="Cpus"/> without hot-plug room).</param>
/// <param name="MemoryMiB">Memory at boot.</param>
/// <param name="MaxMemoryMiB">Memory it may grow to (= <paramref name="MemoryMiB"/> without hot-plug room).</param>
internal sealed record QemuSize(int Cpus, int MaxCpus, int MemoryMiB, int MaxMemoryMiB)
{
    /// <summary>The size of the qemu process <paramref name="pid"/>, from /proc/PID/cmdline.</summary>
    public static QemuSize Of(int pid)
    {
        string[] argv = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0');
        string smp = argv[Array.IndexOf(argv, "-smp") + 1];
        string memory = argv[Array.IndexOf(argv, "-m") + 1];
        var smpKeys = Keys(smp);
        var memoryKeys = Keys(memory);
        int cpus = int.Parse(smpKeys.GetValueOrDefault("cpus", smp), CultureInfo.InvariantCulture);
        int memoryMiB = Mebibytes(memoryKeys.GetValueOrDefault("size", memory));
        return new QemuSize(
            cpus,
            smpKeys.TryGetValue("maxcpus", out string? maxCpus) ? int.Parse(maxCpus, CultureInfo.InvariantCulture) : cpus,
            memoryMiB,
            memoryKeys.TryGetValue("maxmem", out string? maxMemory) ? Mebibytes(maxMemory) : memoryMiB);
    }

    private static Dictionary<string, string> Keys(string argument) =>
        argument.Split(',').Where(part => part.Contains('=')).Select(part => part.Split('=', 2)).ToDictionary(kv => kv[0], kv => kv[1]);

    private static int Mebibytes(string value) => value.EndsWith('G')
        ? int.Parse(value[..^1], CultureInfo.InvariantCulture) * 1024
        : int.Parse(value.TrimEnd('M'), CultureInfo.InvariantCulture);
}
