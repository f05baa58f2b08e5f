namespace KataAgent.Shim.Config;

/// <summary>The shim's configuration file is missing, unreadable or wrong; the message names the file and the field.</summary>
internal sealed class ShimConfigurationException : Exception
{
    public ShimConfigurationException(string path, string message, Exception? inner = null)
        : base($"shim configuration {path}: {message}", inner)
    {
        Path = path;
    }

    /// <summary>The configuration file.</summary>
    public string Path { get; }
}
