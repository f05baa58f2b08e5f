using System.Globalization;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace KataAgent.Host.Pods.Manifests;

/// <summary>
/// Resolves plain scalars as Kubernetes reads YAML (sigs.k8s.io/yaml over go-yaml v2, YAML 1.1 rules), so a
/// manifest means here what it means to kubectl: an unquoted <c>yes</c> is a boolean and an unquoted <c>8080</c> a
/// number, both refused where Kubernetes wants a string. Quoted scalars (and every JSON string) are strings.
/// </summary>
internal static partial class YamlScalars
{
    private const string TagPrefix = "tag:yaml.org,2002:";

    private static readonly HashSet<string> Nulls = ["", "~", "null", "Null", "NULL"];

    private static readonly Dictionary<string, bool> Booleans = new(StringComparer.Ordinal)
    {
        ["y"] = true, ["Y"] = true, ["yes"] = true, ["Yes"] = true, ["YES"] = true,
        ["true"] = true, ["True"] = true, ["TRUE"] = true,
        ["on"] = true, ["On"] = true, ["ON"] = true,
        ["n"] = false, ["N"] = false, ["no"] = false, ["No"] = false, ["NO"] = false,
        ["false"] = false, ["False"] = false, ["FALSE"] = false,
        ["off"] = false, ["Off"] = false, ["OFF"] = false,
    };

    private static readonly HashSet<string> SpecialFloats =
        [".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF"];

    /// <summary>What <paramref name="node"/> holds: an explicit tag (!!str, !!int, …) wins, a quoted scalar is a string, a plain one is resolved.</summary>
    public static YamlScalarKind Kind(YamlScalarNode node)
    {
        string tag = node.Tag.IsEmpty ? "" : node.Tag.Value;
        if (tag.StartsWith(TagPrefix, StringComparison.Ordinal))
        {
            switch (tag[TagPrefix.Length..])
            {
                case "str": return YamlScalarKind.String;
                case "null": return YamlScalarKind.Null;
                case "bool": return YamlScalarKind.Boolean;
                case "int": return YamlScalarKind.Integer;
                case "float": return YamlScalarKind.Float;
            }
        }
        if (node.Style != ScalarStyle.Plain && node.Style != ScalarStyle.Any)
        {
            return YamlScalarKind.String;
        }
        string value = node.Value ?? "";
        if (Nulls.Contains(value))
        {
            return YamlScalarKind.Null;
        }
        if (Booleans.ContainsKey(value))
        {
            return YamlScalarKind.Boolean;
        }
        if (TryInteger(value, out _))
        {
            return YamlScalarKind.Integer;
        }
        if (SpecialFloats.Contains(value) || FloatPattern().IsMatch(value.Replace("_", "", StringComparison.Ordinal)))
        {
            return YamlScalarKind.Float;
        }
        return YamlScalarKind.String;
    }

    /// <summary>A boolean scalar's value.</summary>
    public static bool Boolean(YamlScalarNode node) => Booleans.TryGetValue(node.Value ?? "", out bool value) && value;

    /// <summary>An integer as go-yaml reads one (Go's ParseInt with base 0): sign, then decimal, 0x, 0o, 0b or a leading 0 for octal; '_' between digits.</summary>
    public static bool TryInteger(string text, out long value)
    {
        value = 0;
        string plain = text.Replace("_", "", StringComparison.Ordinal);
        if (plain.Length == 0)
        {
            return false;
        }
        bool negative = plain[0] == '-';
        if (plain[0] is '-' or '+')
        {
            plain = plain[1..];
        }
        int radix = 10;
        if (plain.Length > 2 && plain[0] == '0' && plain[1] is 'x' or 'X' or 'o' or 'O' or 'b' or 'B')
        {
            radix = plain[1] switch { 'x' or 'X' => 16, 'o' or 'O' => 8, _ => 2 };
            plain = plain[2..];
        }
        else if (plain.Length > 1 && plain[0] == '0')
        {
            radix = 8;
            plain = plain[1..];
        }
        if (plain.Length == 0)
        {
            return false;
        }
        UInt128 magnitude = 0;
        foreach (char c in plain)
        {
            int digit = char.IsAsciiDigit(c) ? c - '0' : char.IsAsciiLetter(c) ? char.ToLowerInvariant(c) - 'a' + 10 : 99;
            if (digit >= radix)
            {
                return false;
            }
            magnitude = magnitude * (uint)radix + (uint)digit;
            if (magnitude > (UInt128)long.MaxValue + 1)
            {
                return false;
            }
        }
        if (!negative && magnitude > long.MaxValue)
        {
            return false;
        }
        value = negative ? (long)(0 - magnitude) : (long)magnitude;
        return true;
    }

    /// <summary>How a scalar reads in an error message: its kind and text.</summary>
    public static string Describe(YamlScalarNode node) => Kind(node) switch
    {
        YamlScalarKind.Boolean => $"the boolean {node.Value}",
        YamlScalarKind.Integer => $"the number {node.Value}",
        YamlScalarKind.Float => $"the number {node.Value}",
        YamlScalarKind.Null => "null",
        _ => $"the string \"{node.Value}\"",
    };

    /// <summary>An integer's decimal text, for messages.</summary>
    public static string Decimal(long value) => value.ToString(CultureInfo.InvariantCulture);

    // go-yaml v2's yamlStyleFloat.
    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$", RegexOptions.CultureInvariant)]
    private static partial Regex FloatPattern();
}
