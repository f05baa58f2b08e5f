using FluentAssertions;
using Google.Protobuf.Reflection;
using Xunit;

namespace KataAgent.Tests.Compat;

/// <summary>
/// Our .proto files against Kata's, compared through the descriptors both generate: every service,
/// method, message, field (name, number, type, label, oneof) and enum value must match.
/// </summary>
public class WireContractTests
{
    [Fact]
    public void Our_descriptors_match_katas_field_for_field()
    {
        var ours = Describe(KataAgent.Protocols.Agent.AgentReflection.Descriptor, KataAgent.Protocols.Agent.HealthReflection.Descriptor);
        var theirs = Describe(KataUpstream.Grpc.AgentReflection.Descriptor, KataUpstream.Grpc.HealthReflection.Descriptor);
        ours.Should().Equal(theirs);
        ours.Count(l => l.StartsWith("rpc grpc.AgentService/")).Should().Be(42);
        ours.Should().Contain("rpc grpc.Health/Check(grpc.CheckRequest) returns grpc.HealthCheckResponse");
    }

    private static List<string> Describe(params FileDescriptor[] roots)
    {
        var files = new Dictionary<string, FileDescriptor>();
        void Walk(FileDescriptor file)
        {
            if (files.TryAdd(file.Name, file))
            {
                foreach (var dependency in file.Dependencies)
                {
                    Walk(dependency);
                }
            }
        }
        foreach (var root in roots)
        {
            Walk(root);
        }

        var lines = new List<string>();
        foreach (var file in files.Values)
        {
            foreach (var service in file.Services)
            {
                foreach (var method in service.Methods)
                {
                    lines.Add($"rpc {service.FullName}/{method.Name}({method.InputType.FullName}) returns {method.OutputType.FullName}");
                }
            }
            foreach (var message in file.MessageTypes)
            {
                DescribeMessage(message, lines);
            }
            foreach (var enumType in file.EnumTypes)
            {
                DescribeEnum(enumType, lines);
            }
        }
        lines.Sort(StringComparer.Ordinal);
        return lines;
    }

    private static void DescribeMessage(MessageDescriptor message, List<string> lines)
    {
        lines.Add($"message {message.FullName}");
        foreach (var field in message.Fields.InFieldNumberOrder())
        {
            string type = field.FieldType switch
            {
                FieldType.Message => field.MessageType.FullName,
                FieldType.Enum => field.EnumType.FullName,
                _ => field.FieldType.ToString(),
            };
            string label = field.IsMap ? "map" : field.IsRepeated ? "repeated" : field.HasPresence && field.RealContainingOneof is null && field.FieldType != FieldType.Message ? "optional" : "";
            string oneof = field.RealContainingOneof is { } o ? $" oneof {o.Name}" : "";
            lines.Add($"field {message.FullName}.{field.Name} = {field.FieldNumber} {label} {type}{oneof}");
        }
        foreach (var nested in message.NestedTypes)
        {
            DescribeMessage(nested, lines);
        }
        foreach (var nested in message.EnumTypes)
        {
            DescribeEnum(nested, lines);
        }
    }

    private static void DescribeEnum(EnumDescriptor enumType, List<string> lines)
    {
        foreach (var value in enumType.Values)
        {
            lines.Add($"enum {enumType.FullName}.{value.Name} = {value.Number}");
        }
    }
}
