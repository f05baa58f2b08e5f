using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace KataAgent.Host.Network.Teardown;

/// <summary>IP addresses as their usual text ("10.88.0.2", "fd00::1") in the teardown journal.</summary>
internal sealed class IPAddressJsonConverter : JsonConverter<IPAddress>
{
    public override IPAddress Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        IPAddress.TryParse(reader.GetString(), out var address) ? address : throw new JsonException($"\"{reader.GetString()}\" is not an IP address");

    public override void Write(Utf8JsonWriter writer, IPAddress value, JsonSerializerOptions options) => writer.WriteStringValue(value.ToString());
}
