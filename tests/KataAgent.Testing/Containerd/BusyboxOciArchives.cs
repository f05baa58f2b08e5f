namespace KataAgent.Testing.Containerd;

/// <summary>The docker-archive tarballs <see cref="BusyboxOciImage"/> builds.</summary>
/// <param name="Workload">The tarball of <see cref="BusyboxOciImage.Reference"/>.</param>
/// <param name="Pause">The tarball of <see cref="BusyboxOciImage.PauseReference"/>.</param>
/// <param name="Layout">The OCI layout both came from (tags <c>v1</c> and <c>pause</c>); copy it before changing it.</param>
public sealed record BusyboxOciArchives(string Workload, string Pause, string Layout);
