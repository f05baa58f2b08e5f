using System.Text.Json.Serialization;

namespace KataAgent.Host.Network.Teardown;

/// <summary>
/// Source-generated (Native-AOT safe) JSON for the teardown journal. Read-only properties are left out: on the
/// netlink records they are computed (RouteEntry.IsDefault, InterfaceAddress.IsPermanent), not state.
/// </summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UseStringEnumConverter = true, IgnoreReadOnlyProperties = true, Converters = [typeof(IPAddressJsonConverter)])]
[JsonSerializable(typeof(TeardownJournal))]
internal sealed partial class TeardownJournalJsonContext : JsonSerializerContext;
