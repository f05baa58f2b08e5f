using KataAgent.Linux.Interop;

namespace KataAgent.Agent.Storage.Drivers;

/// <summary><c>local</c>: a guest directory (a disk emptyDir), given the mode and group the request names; nothing is mounted.</summary>
internal sealed class LocalStorageDriver : IStorageDriver
{
    public string Name => StorageDrivers.Local;

    public bool RemovesCreatedMountPoint => false;

    public void Validate(Protocols.Agent.Storage storage, string at)
    {
    }

    public Task<Func<string, bool>> PrepareAsync(Protocols.Agent.Storage storage, string at, StorageDriverContext context, CancellationToken cancellationToken) =>
        Task.FromResult<Func<string, bool>>(mountPoint =>
        {
            foreach (string option in storage.Options)
            {
                if (option.StartsWith("mode=", StringComparison.Ordinal))
                {
                    File.SetUnixFileMode(mountPoint, (UnixFileMode)Convert.ToInt32(option[5..], 8));
                }
            }
            if (storage.FsGroup is { } group)
            {
                Libc.Check(Libc.Chown(mountPoint, uint.MaxValue, group.GroupId), $"chown {mountPoint}");
            }
            return false;
        });
}
