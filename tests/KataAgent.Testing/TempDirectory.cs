namespace KataAgent.Testing;

/// <summary>A short-named scratch directory (unix socket paths must stay under 108 bytes), removed on dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    /// <summary>Creates a fresh directory under the system's temporary directory.</summary>
    public TempDirectory()
    {
        Path = Directory.CreateTempSubdirectory("ka-").FullName;
    }

    /// <summary>The directory's full path.</summary>
    public string Path { get; }

    /// <summary>The path of <paramref name="name"/> inside the directory (nothing is created).</summary>
    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Creates the directory <paramref name="name"/> inside this one and returns its path.</summary>
    public string CreateDirectory(string name) => Directory.CreateDirectory(File(name)).FullName;

    /// <summary>Removes the directory and everything in it; what cannot be removed (a busy mount, a root-owned file) is left.</summary>
    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
