using KataAgent.Testing.Images;
using KataAgent.Testing.Registry;
using Xunit;

namespace KataAgent.VmTests.Images;

/// <summary>
/// One test registry (plain HTTP, in a network namespace of its own) holding <see cref="BusyboxAppImage"/> as
/// <see cref="Reference"/>, and a scratch image store and run directory for out/kactl, shared by the class's tests.
/// </summary>
public sealed class KactlImageFixture : IAsyncLifetime
{
    private readonly TempDirectory _directory = new();

    public TestRegistry Registry { get; private set; } = null!;

    /// <summary>The pushed image's reference.</summary>
    public string Reference { get; private set; } = "";

    /// <summary>kactl's image store (<c>KACTL_IMAGE_STORE</c>).</summary>
    public string Store => _directory.File("store");

    /// <summary>kactl's run directory (<c>KACTL_RUN_DIR</c>).</summary>
    public string RunDirectory => _directory.File("run");

    public async Task InitializeAsync()
    {
        string layout = _directory.File("layout");
        await BusyboxAppImage.BuildAsync(layout, Directory.CreateDirectory(_directory.File("scratch")).FullName);
        Registry = await TestRegistry.StartAsync();
        Reference = await Registry.PushAsync($"oci:{layout}:{BusyboxAppImage.Tag}", "test/app:v1");
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
