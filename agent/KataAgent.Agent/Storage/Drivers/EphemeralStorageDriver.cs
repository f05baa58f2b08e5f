using KataAgent.Agent.Containers.Spec;
using KataAgent.Agent.Errors;
using KataAgent.Agent.Interop;
using KataAgent.Linux.Interop;

namespace KataAgent.Agent.Storage.Drivers;

/// <summary><c>ephemeral</c>: a tmpfs (the pod's /dev/shm, a memory emptyDir).</summary>
internal sealed class EphemeralStorageDriver : IStorageDriver
{
    public string Name => StorageDrivers.Ephemeral;

    public bool RemovesCreatedMountPoint => false;

    public void Validate(Protocols.Agent.Storage storage, string at)
    {
        if (storage.Fstype is not ("" or "tmpfs"))
        {
            throw AgentException.InvalidArgument($"{at}.fstype", $"'{storage.Fstype}': ephemeral storage is tmpfs");
        }
    }

    public Task<Func<string, bool>> PrepareAsync(Protocols.Agent.Storage storage, string at, StorageDriverContext context, CancellationToken cancellationToken) =>
        Task.FromResult<Func<string, bool>>(mountPoint =>
        {
            var (flags, _, data) = MountOptions.Parse(storage.Options);
            Libc.Check(Libc.Mount(storage.Source.Length > 0 ? storage.Source : "tmpfs", mountPoint, "tmpfs", flags, data), $"mount tmpfs on {mountPoint}");
            return true;
        });
}
