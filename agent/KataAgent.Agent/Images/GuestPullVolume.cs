using System.Text.Json;
using System.Text.Json.Serialization;
using KataAgent.Agent.Errors;

namespace KataAgent.Agent.Images;

/// <summary>
/// Kata's <c>ImagePullVolume</c>: the driver option <c>image_guest_pull=&lt;JSON {"metadata":{…}}&gt;</c> of an
/// image_guest_pull storage, the metadata being the container's annotations. Kata's runtime (and the
/// nydus-snapshotter in guest-pull mode) writes it; Kata's agent requires it and reads the container type from it.
/// </summary>
internal sealed class GuestPullVolume
{
    /// <summary>The driver option's key (Kata's <c>KATA_VIRTUAL_VOLUME_IMAGE_GUEST_PULL</c>).</summary>
    public const string OptionKey = "image_guest_pull";

    /// <summary>The annotations that say a container is the sandbox's (pause) container, and the value that does.</summary>
    public static readonly string[] ContainerTypeKeys = ["io.kubernetes.cri.container-type", "io.kubernetes.cri-o.ContainerType"];

    /// <summary>The container-type value of the sandbox (pause) container.</summary>
    public const string SandboxType = "sandbox";

    /// <summary>The container's annotations.</summary>
    [JsonPropertyName("metadata")]
    public Dictionary<string, string> Metadata { get; set; } = [];

    /// <summary>Whether the annotations say this is the sandbox's pause container (Kata's <c>is_sandbox</c>).</summary>
    [JsonIgnore]
    public bool IsSandbox => ContainerTypeKeys.Any(key => Metadata.TryGetValue(key, out string? value) && value == SandboxType);

    /// <summary>Parses the storage's driver options; INVALID_ARGUMENT naming <c><paramref name="at"/>.driver_options</c> when the option is missing or not Kata's JSON.</summary>
    public static GuestPullVolume Parse(IReadOnlyList<string> driverOptions, string at)
    {
        foreach (string option in driverOptions)
        {
            int equals = option.IndexOf('=');
            if (equals < 0 || option[..equals] != OptionKey)
            {
                continue;
            }
            try
            {
                return JsonSerializer.Deserialize(option[(equals + 1)..], GuestPullVolumeJsonContext.Default.GuestPullVolume)
                    ?? throw AgentException.InvalidArgument($"{at}.driver_options", $"{OptionKey} is null, not {{\"metadata\":{{…}}}}");
            }
            catch (JsonException e)
            {
                throw AgentException.InvalidArgument($"{at}.driver_options", $"{OptionKey} is not {{\"metadata\":{{annotations}}}}: {e.Message}");
            }
        }
        throw AgentException.InvalidArgument($"{at}.driver_options", $"has no {OptionKey}=<JSON> option (missing image information for the image_guest_pull volume)");
    }
}
