using System.Text.Json.Serialization;

namespace KataAgent.Host.Vm;

/// <summary>virtiofsd's <c>-o cache=</c>: how long the guest may trust what it cached of the shared directory.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<QemuVirtiofsCache>))]
public enum QemuVirtiofsCache
{
    /// <summary>Attributes and directory entries for 1 s, file data until the file changes on open (Kata's default).</summary>
    Auto,

    /// <summary>No caching: every lookup and read goes to the host (the guest sees host changes at once; slowest).</summary>
    None,

    /// <summary>Cached for a day: only for a directory nobody changes on the host while the guest uses it.</summary>
    Always,
}
