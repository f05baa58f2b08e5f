using KataAgent.Host.Images;
using KataAgent.Testing.Images;
using Xunit;
using ImageHost = KataAgent.Host.Images.HostImages;

namespace KataAgent.Tests.HostImages;

/// <summary><see cref="BusyboxAppImage"/> built with umoci and loaded into a store of its own as <see cref="Name"/> (no registry), shared by a class's tests.</summary>
public sealed class AppImageStoreFixture : IAsyncLifetime
{
    /// <summary>The name the image is stored under.</summary>
    public const string Name = "example.com/test/app:v1";

    private readonly TempDirectory _directory = new();

    public ImageHost Images { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        string layout = _directory.File("layout");
        await BusyboxAppImage.BuildAsync(layout, Directory.CreateDirectory(_directory.File("scratch")).FullName);
        Images = new ImageHost(new HostImagesOptions { StoreDirectory = _directory.File("store") });
        await Images.LoadAsync(layout, Name);
    }

    public Task DisposeAsync()
    {
        Images?.Dispose();
        _directory.Dispose();
        return Task.CompletedTask;
    }
}
