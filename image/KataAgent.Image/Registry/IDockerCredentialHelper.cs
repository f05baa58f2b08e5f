namespace KataAgent.Image.Registry;

/// <summary>
/// Runs docker credential helpers (<c>docker-credential-NAME get</c>) for <see cref="DockerConfigCredentials"/>.
/// The image library spawns no process (it also runs in the guest, where there are no helpers); the host library
/// gives an implementation.
/// </summary>
public interface IDockerCredentialHelper
{
    /// <summary>
    /// Runs <paramref name="program"/> (<c>docker-credential-NAME</c>, found in PATH) with the argument <c>get</c> and
    /// <paramref name="serverUrl"/> on its stdin, and returns what it exited with and wrote.
    /// </summary>
    /// <exception cref="ImageException">The program could not be started (not installed): InvalidInput naming it.</exception>
    Task<DockerCredentialHelperOutput> GetAsync(string program, string serverUrl, CancellationToken cancellationToken);
}
