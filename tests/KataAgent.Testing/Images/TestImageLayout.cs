namespace KataAgent.Testing.Images;

/// <summary>
/// The layout <see cref="TestImageBuilder"/> builds, once per test class that uses it (xunit class fixture), in a
/// scratch directory removed at the end.
/// </summary>
public sealed class TestImageLayout : Xunit.IAsyncLifetime
{
    private readonly TempDirectory _directory = new();

    /// <summary>The OCI layout directory.</summary>
    public string Layout => Path.Combine(_directory.Path, "layout");

    /// <summary>A fresh directory for one test's output, inside the fixture's scratch directory.</summary>
    public string NewDirectory(string name) =>
        Directory.CreateDirectory(Path.Combine(_directory.Path, name + "-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    /// <summary>The image tagged <paramref name="tag"/>.</summary>
    public OciLayoutImage Image(string tag) => OciLayoutImage.Load(Layout, tag);

    /// <inheritdoc/>
    public Task InitializeAsync() => TestImageBuilder.BuildAllAsync(Layout, Path.Combine(_directory.Path, "scratch"));

    /// <inheritdoc/>
    public Task DisposeAsync()
    {
        _directory.Dispose();
        return Task.CompletedTask;
    }
}
