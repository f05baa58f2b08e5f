using System.Text.Json.Serialization;

namespace KataAgent.Host.Network.Teardown;

/// <summary>Source-generated (Native-AOT safe) JSON for the teardown journal.</summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UseStringEnumConverter = true, Converters = [typeof(IPAddressJsonConverter)])]
[JsonSerializable(typeof(TeardownJournal))]
internal sealed partial class TeardownJournalJsonContext : JsonSerializerContext;
