using KataAgent.Protocols.Extensions;

namespace KataAgent.Agent.PodVolumes;

/// <summary>
/// The volumes of kataagent.v1 Pods that only the guest mounts: emptyDirs (tmpfs, or the pod's scratch disk with
/// the size limit enforced), block volumes formatted on first use, and block volumes encrypted with dm-crypt
/// through the device-mapper interface. The host hands over raw disks and never sees a filesystem or plaintext.
/// </summary>
internal sealed class GuestVolumes
{
    /// <summary>
    /// Sets <paramref name="volume"/> of pod <paramref name="podId"/> up and returns the guest directory that holds it
    /// (what containers' volume mounts bind). Fields are checked first; errors are <c>AgentException</c>s naming
    /// <c><paramref name="at"/>.field</c>. On failure nothing of this volume is left behind.
    /// </summary>
    public Task<string> SetUpAsync(string podId, PodVolume volume, string at, CancellationToken cancellationToken) => throw new NotImplementedException();

    /// <summary>Undoes <see cref="SetUpAsync"/> for one volume: unmounts it, removes its dm-crypt mapping and forgets its key. Idempotent.</summary>
    public Task TearDownAsync(string podId, string volumeName, CancellationToken cancellationToken) => throw new NotImplementedException();
}
