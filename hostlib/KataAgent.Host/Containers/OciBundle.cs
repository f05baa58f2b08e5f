using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using KataAgent.Protocols.Agent;

namespace KataAgent.Host.Containers;

/// <summary>
/// An OCI bundle: a directory with <c>config.json</c> (OCI runtime-spec JSON, as <c>runc spec</c>
/// or <c>crun spec</c> write it) and a root filesystem, loaded into Kata's protobuf
/// <see cref="Protocols.Agent.Spec"/> for <see cref="Container.CreateAsync(AgentClient, string, Spec, ContainerOptions?, CancellationToken)"/>.
/// </summary>
/// <remarks>
/// Parsing uses source-generated System.Text.Json metadata (trimming- and Native-AOT-safe). Fields
/// Kata's Spec has no place for (<c>linux.resources.unified</c>, <c>process.scheduler</c>,
/// <c>linux.personality</c>, …) and unknown fields are ignored. A relative <c>root.path</c> is
/// resolved against the bundle directory, so <see cref="Spec"/>'s <c>Root.Path</c> is always
/// absolute.
/// </remarks>
public sealed class OciBundle
{
    /// <summary>The file name of a bundle's configuration.</summary>
    public const string ConfigFileName = "config.json";

    private OciBundle(string directory, string configPath, Spec spec)
    {
        Directory = directory;
        ConfigPath = configPath;
        Spec = spec;
    }

    /// <summary>The bundle directory, absolute.</summary>
    public string Directory { get; }

    /// <summary>The bundle's config.json, absolute.</summary>
    public string ConfigPath { get; }

    /// <summary>The configuration in Kata's form. A fresh object per load: change it as you like (e.g. <c>Process.Terminal</c>).</summary>
    public Spec Spec { get; }

    /// <summary>Loads <c>DIRECTORY/config.json</c>.</summary>
    /// <exception cref="OciBundleException">The directory or config.json is missing or unreadable, the JSON is malformed
    /// (the message names the file, the JSON path and the line), or <c>root.path</c> is missing.</exception>
    public static OciBundle Load(string directory)
    {
        var (full, configPath) = Locate(directory);
        byte[] json;
        try
        {
            json = File.ReadAllBytes(configPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Unreadable(configPath, e);
        }
        return new OciBundle(full, configPath, ParseConfig(json, full, configPath));
    }

    /// <inheritdoc cref="Load(string)"/>
    public static async Task<OciBundle> LoadAsync(string directory, CancellationToken cancellationToken = default)
    {
        var (full, configPath) = Locate(directory);
        byte[] json;
        try
        {
            json = await File.ReadAllBytesAsync(configPath, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Unreadable(configPath, e);
        }
        return new OciBundle(full, configPath, ParseConfig(json, full, configPath));
    }

    /// <summary>Parses OCI config JSON (UTF-8) into a Spec; a relative root.path is resolved against
    /// <paramref name="bundleDirectory"/>. <paramref name="configPath"/> only names the source in errors.</summary>
    /// <exception cref="OciBundleException">Malformed JSON, a value of the wrong type, or a missing root.path.</exception>
    public static Spec ParseConfig(ReadOnlySpan<byte> utf8Json, string bundleDirectory, string configPath = ConfigFileName)
    {
        var config = Deserialize(utf8Json, OciConfigJsonContext.Default.Config, configPath);
        return OciSpecMapper.Map(config, Path.GetFullPath(bundleDirectory), configPath);
    }

    /// <summary>
    /// Parses an OCI <c>process</c> object (UTF-8 JSON, as containerd sends it in a task Exec's <c>spec</c>, type
    /// <c>types.containerd.io/opencontainers/runtime-spec/1/Process</c>) into Kata's <see cref="Process"/>, mapped
    /// as config.json's <c>process</c> is. <paramref name="source"/> only names the document in errors.
    /// </summary>
    /// <exception cref="OciBundleException">Malformed JSON or a value of the wrong type; the message names the JSON
    /// path (<c>$.args[1]</c>) and, for syntax errors, the line.</exception>
    public static Process ParseProcess(ReadOnlySpan<byte> utf8Json, string source = "process JSON")
    {
        var process = Deserialize(utf8Json, OciConfigJsonContext.Default.Process, source);
        return OciSpecMapper.MapProcessDocument(process, source);
    }

    /// <summary>
    /// Parses an OCI <c>linux.resources</c> object (UTF-8 JSON, as containerd sends it in a task Update's
    /// <c>resources</c>, type <c>types.containerd.io/opencontainers/runtime-spec/1/LinuxResources</c>) into Kata's
    /// <see cref="LinuxResources"/>, mapped as config.json's <c>linux.resources</c> is (what
    /// <see cref="Container.UpdateAsync"/> takes). <paramref name="source"/> only names the document in errors.
    /// </summary>
    /// <exception cref="OciBundleException">Malformed JSON or a value of the wrong type; the message names the JSON
    /// path (<c>$.cpu.quota</c>) and, for syntax errors, the line.</exception>
    public static LinuxResources ParseResources(ReadOnlySpan<byte> utf8Json, string source = "resources JSON")
    {
        var resources = Deserialize(utf8Json, OciConfigJsonContext.Default.Resources, source);
        return OciSpecMapper.MapResourcesDocument(resources, source);
    }

    private static T Deserialize<T>(ReadOnlySpan<byte> utf8Json, JsonTypeInfo<T> typeInfo, string source)
        where T : class
    {
        if (utf8Json.StartsWith("\uFEFF"u8))
        {
            utf8Json = utf8Json[3..]; // a UTF-8 byte order mark, as some editors write it
        }
        T? value;
        try
        {
            value = JsonSerializer.Deserialize(utf8Json, typeInfo);
        }
        catch (JsonException e)
        {
            throw new OciBundleException(source, e.Path ?? "$", e.LineNumber + 1, WithoutLocation(e.Message), e);
        }
        return value ?? throw new OciBundleException(source, "$", null, "is null; expected an object");
    }

    /// <inheritdoc cref="ParseConfig(ReadOnlySpan{byte}, string, string)"/>
    public static Spec ParseConfig(string json, string bundleDirectory, string configPath = ConfigFileName) =>
        ParseConfig(Encoding.UTF8.GetBytes(json), bundleDirectory, configPath);

    private static (string Directory, string ConfigPath) Locate(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        string full = Path.GetFullPath(directory);
        string configPath = Path.Combine(full, ConfigFileName);
        if (!System.IO.Directory.Exists(full))
        {
            throw new OciBundleException(full, null, null, "the bundle directory does not exist");
        }
        if (!File.Exists(configPath))
        {
            throw new OciBundleException(configPath, null, null, $"not found: a bundle directory holds {ConfigFileName} (e.g. from 'runc spec' or 'crun spec')");
        }
        return (full, configPath);
    }

    private static OciBundleException Unreadable(string configPath, Exception e) => new(configPath, null, null, $"cannot be read: {e.Message}", e);

    /// <summary>System.Text.Json appends "Path: … | LineNumber: … | BytePositionInLine: …"; the exception carries those apart.</summary>
    private static string WithoutLocation(string message)
    {
        foreach (string marker in new[] { " Path: ", " LineNumber: ", " Path:", " LineNumber:" })
        {
            int at = message.IndexOf(marker, StringComparison.Ordinal);
            if (at > 0)
            {
                message = message[..at];
            }
        }
        return message.TrimEnd();
    }
}
