using System.Text.Json.Serialization;

namespace KataAgent.Host.Vm;

/// <summary>Source-generated (Native-AOT safe) JSON for vm.json.</summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(QemuVmState))]
internal sealed partial class QemuVmStateJsonContext : JsonSerializerContext;
