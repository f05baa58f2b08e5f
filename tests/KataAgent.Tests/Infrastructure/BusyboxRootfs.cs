namespace KataAgent.Tests.Infrastructure;

/// <summary>A scratch busybox rootfs for container tests, made by the same builder as out/rootfs (KataAgent.Rootfs.Busybox).</summary>
public sealed class BusyboxRootfs : IDisposable
{
    private readonly TempDirectory _directory = new();

    private BusyboxRootfs()
    {
        Path = _directory.File("rootfs");
    }

    /// <summary>The rootfs directory (give it to the OCI spec's Root.Path).</summary>
    public string Path { get; }

    public static async Task<BusyboxRootfs> CreateAsync()
    {
        var rootfs = new BusyboxRootfs();
        try
        {
            await KataAgent.Rootfs.Busybox.BusyboxRootfs.CreateAsync(rootfs.Path);
        }
        catch
        {
            rootfs.Dispose();
            throw;
        }
        return rootfs;
    }

    public void Dispose() => _directory.Dispose();
}
