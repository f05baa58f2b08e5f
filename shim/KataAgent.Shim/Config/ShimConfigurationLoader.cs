using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf.WellKnownTypes;
using KataAgent.Host.Network;
using KataAgent.Host.Sandboxes;
using KataAgent.Host.Vm;
using KataAgent.Protocols.Containerd.RuntimeOptions;
using KataAgent.Shim.Sizing;

namespace KataAgent.Shim.Config;

/// <summary>Finds, reads and checks the shim's configuration (<see cref="ShimConfiguration"/>).</summary>
internal static class ShimConfigurationLoader
{
    /// <summary>Where the configuration is when neither the runtime options nor the environment name one.</summary>
    public const string DefaultPath = "/etc/kataagent/configuration.json";

    /// <summary>The environment variable that names the configuration when the runtime options do not.</summary>
    public const string EnvironmentVariable = "KATAAGENT_SHIM_CONFIG";

    /// <summary>The type URL of the options containerd's CRI plugin and <c>ctr --runtime-config-path</c> send.</summary>
    public const string RuntimeOptionsTypeUrl = "runtimeoptions.v1.Options";

    /// <summary>
    /// The configuration file to read: <paramref name="options"/>' <c>config_path</c> (the runtime options containerd
    /// gives Create and <c>start</c>), else <see cref="EnvironmentVariable"/>, else <see cref="DefaultPath"/>.
    /// </summary>
    /// <exception cref="ShimConfigurationException">The options are not <c>runtimeoptions.v1.Options</c>, or the path is relative.</exception>
    public static string Resolve(Any? options, Func<string, string?>? environment = null)
    {
        environment ??= System.Environment.GetEnvironmentVariable;
        string? path = null;
        if (options is not null && (options.TypeUrl.Length > 0 || !options.Value.IsEmpty))
        {
            string typeName = options.TypeUrl[(options.TypeUrl.LastIndexOf('/') + 1)..];
            if (typeName != RuntimeOptionsTypeUrl)
            {
                throw new ShimConfigurationException("(runtime options)", $"options of type '{options.TypeUrl}' are not {RuntimeOptionsTypeUrl}");
            }
            path = Options.Parser.ParseFrom(options.Value).ConfigPath;
        }
        if (string.IsNullOrEmpty(path))
        {
            path = environment(EnvironmentVariable);
        }
        if (string.IsNullOrEmpty(path))
        {
            path = DefaultPath;
        }
        if (!System.IO.Path.IsPathFullyQualified(path))
        {
            throw new ShimConfigurationException(path, "the configuration path must be absolute");
        }
        return path;
    }

    /// <summary>Reads and checks the configuration at <paramref name="path"/>.</summary>
    /// <exception cref="ShimConfigurationException">Missing, unreadable, malformed (naming the JSON path), or a field is wrong (naming it).</exception>
    public static ShimConfiguration Load(string path)
    {
        byte[] json;
        try
        {
            json = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ShimConfigurationException(path, $"does not exist (set runtime option ConfigPath, {EnvironmentVariable}, or write {DefaultPath})", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ShimConfigurationException(path, $"cannot be read: {e.Message}", e);
        }
        return Parse(json, path);
    }

    /// <summary>Parses and checks configuration JSON; <paramref name="path"/> only names the source in errors.</summary>
    /// <exception cref="ShimConfigurationException">Malformed (naming the JSON path), or a field is wrong (naming it).</exception>
    public static ShimConfiguration Parse(ReadOnlySpan<byte> json, string path)
    {
        ShimConfiguration? config;
        try
        {
            var document = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            if (document is JsonObject root && root["sizing"] is JsonObject sizing)
            {
                root["sizing"] = WithDefaults(sizing);
            }
            config = document.Deserialize(ShimConfigurationJsonContext.Default.ShimConfiguration);
        }
        catch (JsonException e)
        {
            string message = e.Message;
            int cut = message.IndexOf(" Path: ", StringComparison.Ordinal);
            throw new ShimConfigurationException(path, $"at {e.Path ?? "$"} (line {e.LineNumber + 1}): {(cut > 0 ? message[..cut] : message)}", e);
        }
        if (config is null)
        {
            throw new ShimConfigurationException(path, "is null; expected an object");
        }
        Check(config, path);
        return config;
    }

    /// <summary>
    /// <paramref name="sizing"/> over the defaults of <see cref="SizingOptions"/>: source-generated JSON creates a record
    /// with init-only properties from what the document holds alone, so a key left out would be zero, not its default.
    /// </summary>
    private static JsonObject WithDefaults(JsonObject sizing)
    {
        var merged = JsonSerializer.SerializeToNode(new SizingOptions(), ShimConfigurationJsonContext.Default.SizingOptions)!.AsObject();
        foreach (var (key, value) in sizing)
        {
            merged[key] = value?.DeepClone();
        }
        return merged;
    }

    /// <summary>The network model <paramref name="config"/> names.</summary>
    public static NetworkModel NetworkModelOf(ShimConfiguration config) => config.NetworkModel switch
    {
        "tcfilter" => NetworkModel.TcFilter,
        "macvtap" => NetworkModel.Macvtap,
        "passt" => NetworkModel.Passt,
        "none" => NetworkModel.None,
        _ => throw new ShimConfigurationException("(configuration)", $"networkModel '{config.NetworkModel}' is not tcfilter, macvtap, passt or none"),
    };

    /// <summary>The rootfs mode <paramref name="config"/> names.</summary>
    public static RootfsMode RootfsModeOf(ShimConfiguration config) => config.RootfsMode switch
    {
        "virtiofs" => RootfsMode.VirtioFs,
        "blk" => RootfsMode.Blk,
        _ => throw new ShimConfigurationException("(configuration)", $"rootfsMode '{config.RootfsMode}' is not virtiofs or blk"),
    };

    /// <summary>The agent channel <paramref name="config"/> names.</summary>
    public static QemuAgentChannel AgentChannelOf(ShimConfiguration config) => config.AgentChannel switch
    {
        "vsock" => QemuAgentChannel.Vsock,
        "serial" => QemuAgentChannel.Serial,
        _ => throw new ShimConfigurationException("(configuration)", $"agentChannel '{config.AgentChannel}' is not vsock or serial"),
    };

    private static void Check(ShimConfiguration config, string path)
    {
        RequireFile(config.Kernel, "kernel", path);
        RequireFile(config.Initrd, "initrd", path);
        if (string.IsNullOrEmpty(config.Qemu))
        {
            throw new ShimConfigurationException(path, "qemu is empty");
        }
        if (string.IsNullOrEmpty(config.Virtiofsd))
        {
            throw new ShimConfigurationException(path, "virtiofsd is empty");
        }
        if (string.IsNullOrEmpty(config.StateRoot) || !System.IO.Path.IsPathFullyQualified(config.StateRoot))
        {
            throw new ShimConfigurationException(path, $"stateRoot '{config.StateRoot}' is not an absolute path");
        }
        if (config.AgentTimeoutSeconds <= 0)
        {
            throw new ShimConfigurationException(path, $"agentTimeoutSeconds {config.AgentTimeoutSeconds} is not a positive number of seconds");
        }
        if (config.NetworkModel is not ("tcfilter" or "macvtap" or "passt" or "none"))
        {
            throw new ShimConfigurationException(path, $"networkModel '{config.NetworkModel}' is not tcfilter, macvtap, passt or none");
        }
        if (config.RootfsMode is not ("virtiofs" or "blk"))
        {
            throw new ShimConfigurationException(path, $"rootfsMode '{config.RootfsMode}' is not virtiofs or blk");
        }
        if (config.AgentChannel is not ("vsock" or "serial"))
        {
            throw new ShimConfigurationException(path, $"agentChannel '{config.AgentChannel}' is not vsock or serial");
        }
        if (config.Sizing is null)
        {
            throw new ShimConfigurationException(path, "sizing is null; leave it out for the defaults");
        }
        try
        {
            config.Sizing.Validate();
        }
        catch (SizingException e)
        {
            throw new ShimConfigurationException(path, e.Message, e);
        }
    }

    private static void RequireFile(string? value, string field, string path)
    {
        if (string.IsNullOrEmpty(value))
        {
            throw new ShimConfigurationException(path, $"{field} is required (the guest {field} to boot)");
        }
        if (!System.IO.Path.IsPathFullyQualified(value))
        {
            throw new ShimConfigurationException(path, $"{field} '{value}' is not an absolute path");
        }
        if (!File.Exists(value))
        {
            throw new ShimConfigurationException(path, $"{field} '{value}' does not exist");
        }
    }
}
