namespace KataAgent.Testing.Containerd;

/// <summary>The docker-archive tarballs <see cref="BusyboxOciImage"/> builds.</summary>
/// <param name="Workload">The tarball of <see cref="BusyboxOciImage.Reference"/>.</param>
/// <param name="Pause">The tarball of <see cref="BusyboxOciImage.PauseReference"/>.</param>
public sealed record BusyboxOciArchives(string Workload, string Pause);
