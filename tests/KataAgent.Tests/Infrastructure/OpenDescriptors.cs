namespace KataAgent.Tests.Infrastructure;

/// <summary>This process's open fds, by what /proc/self/fd says they point to.</summary>
public static class OpenDescriptors
{
    /// <summary>
    /// How many fds point to something containing <paramref name="target"/> (e.g. "eventfd" for anon_inode:[eventfd]),
    /// after running pending finalizers, so a handle some earlier test dropped does not close in the middle of a count.
    /// </summary>
    public static int Count(string target)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        return new DirectoryInfo("/proc/self/fd").GetFileSystemInfos().Count(fd =>
        {
            try
            {
                return fd.LinkTarget?.Contains(target, StringComparison.Ordinal) == true;
            }
            catch (IOException)
            {
                return false; // closed while we looked
            }
        });
    }
}
