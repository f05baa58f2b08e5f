using KataAgent.Testing.Images;
using KataAgent.Testing.Registry;
using Xunit;

namespace KataAgent.Tests.HostImages;

/// <summary>
/// One test registry (Debian's docker-registry in a network namespace of its own, Basic auth) holding
/// <see cref="BusyboxAppImage"/> as <see cref="Reference"/>, the image's OCI layout and an oci-archive of it, and a
/// docker config file with the registry's credentials, shared by a class's tests. Everything goes with it.
/// </summary>
public sealed class HostImagesRegistryFixture : IAsyncLifetime
{
    private readonly TempDirectory _directory = new();

    public TestRegistry Registry { get; private set; } = null!;

    /// <summary>The pushed image's reference.</summary>
    public string Reference { get; private set; } = "";

    /// <summary>The OCI layout the image was built in (tag <see cref="BusyboxAppImage.Tag"/>).</summary>
    public string Layout => _directory.File("layout");

    /// <summary>The same image as an oci-archive tarball.</summary>
    public string Archive => _directory.File("app.tar");

    /// <summary>A docker config.json with the registry's user and password.</summary>
    public string DockerConfig => Path.Combine(DockerConfigDirectory, "config.json");

    /// <summary>The directory holding <see cref="DockerConfig"/>, as <c>$DOCKER_CONFIG</c> names it.</summary>
    public string DockerConfigDirectory => _directory.File("docker");

    /// <summary>A fresh directory under the fixture's, for a test's own store or rootfs.</summary>
    public string NewDirectory(string name) => Directory.CreateDirectory(_directory.File(name + "-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    public async Task InitializeAsync()
    {
        await BusyboxAppImage.BuildAsync(Layout, Directory.CreateDirectory(_directory.File("scratch")).FullName);
        string skopeo = HostTools.Require("skopeo", "skopeo");
        await HostTools.RunAsync(skopeo, ["--insecure-policy", "copy", "--quiet", $"oci:{Layout}:{BusyboxAppImage.Tag}", $"oci-archive:{Archive}:example.com/archived/app:v2"]);
        Registry = await TestRegistry.StartAsync(new TestRegistryOptions { Auth = TestRegistryAuth.Basic });
        Reference = await Registry.PushAsync($"oci:{Layout}:{BusyboxAppImage.Tag}", "test/app:v1");
        Directory.CreateDirectory(DockerConfigDirectory);
        WriteDockerConfig(DockerConfig, Registry.Host, Registry.Options.User, Registry.Options.Password);
    }

    /// <summary>Writes a docker config.json whose <c>auths</c> hold <paramref name="user"/> and <paramref name="password"/> for <paramref name="registry"/>.</summary>
    public static void WriteDockerConfig(string path, string registry, string user, string password)
    {
        string auth = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(user + ":" + password));
        File.WriteAllText(path, "{\"auths\":{\"" + registry + "\":{\"auth\":\"" + auth + "\"}}}");
    }

    public async Task DisposeAsync()
    {
        if (Registry is not null)
        {
            await Registry.DisposeAsync();
        }
        _directory.Dispose();
    }
}
