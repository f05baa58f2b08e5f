using YamlDotNet.RepresentationModel;

namespace KataAgent.Host.Pods.Manifests;

/// <summary>
/// One mapping of a manifest at a known path ("spec.containers[0]"): typed reads of its fields, each error naming the
/// field's path and line. A field set to null counts as absent, as it does when Kubernetes decodes JSON.
/// </summary>
internal sealed class ManifestObject
{
    private readonly YamlMappingNode _node;
    private readonly Dictionary<string, (YamlNode Key, YamlNode Value)> _fields = new(StringComparer.Ordinal);

    private ManifestObject(YamlMappingNode node, string path)
    {
        _node = node;
        Path = path;
        foreach (var (key, value) in node.Children)
        {
            if (key is not YamlScalarNode { Value: { } name })
            {
                throw Error(path, "field names must be scalars", key);
            }
            if (!_fields.TryAdd(name, (key, value)))
            {
                throw Error(At(path, name), "given twice", key);
            }
        }
    }

    /// <summary>The path of this mapping ("" for the document).</summary>
    public string Path { get; }

    /// <summary>The line the mapping starts on.</summary>
    public int Line => (int)_node.Start.Line;

    /// <summary>The document's top mapping.</summary>
    public static ManifestObject Root(YamlNode node) =>
        node is YamlMappingNode mapping ? new ManifestObject(mapping, "") : throw Error("", "a manifest is a mapping (apiVersion, kind, metadata, spec)", node);

    /// <summary>The path of a field of this mapping.</summary>
    public string PathOf(string field) => At(Path, field);

    /// <summary>
    /// Refuses every set field not in <paramref name="supported"/>, first in document order: "not supported" when
    /// Kubernetes has such a field (<paramref name="kubernetes"/>), "unknown field" when it does not.
    /// </summary>
    public void Only(IReadOnlySet<string> supported, IReadOnlySet<string> kubernetes)
    {
        foreach (var (name, (key, value)) in _fields)
        {
            if (supported.Contains(name) || IsNull(value))
            {
                continue;
            }
            throw kubernetes.Contains(name)
                ? Error(PathOf(name), "not supported", key)
                : Error(PathOf(name), "unknown field", key);
        }
    }

    /// <summary>Whether the field is set (present and not null).</summary>
    public bool Has(string field) => _fields.TryGetValue(field, out var entry) && !IsNull(entry.Value);

    /// <summary>The field names, in document order, of the fields that are set.</summary>
    public IEnumerable<string> Names => _fields.Where(f => !IsNull(f.Value.Value)).Select(f => f.Key);

    /// <summary>A string field; null when absent.</summary>
    public string? String(string field) => Get(field) is { } node ? StringOf(node, PathOf(field)) : null;

    /// <summary>A string field that must be set and non-empty.</summary>
    public string RequiredString(string field)
    {
        string? value = String(field);
        return string.IsNullOrEmpty(value) ? throw Error(PathOf(field), "required", _node) : value;
    }

    /// <summary>A boolean field; null when absent.</summary>
    public bool? Boolean(string field)
    {
        if (Get(field) is not { } node)
        {
            return null;
        }
        return node is YamlScalarNode scalar && YamlScalars.Kind(scalar) == YamlScalarKind.Boolean
            ? YamlScalars.Boolean(scalar)
            : throw Error(PathOf(field), $"expected true or false, found {Describe(node)}", node);
    }

    /// <summary>An integer field within [<paramref name="minimum"/>, <paramref name="maximum"/>]; null when absent.</summary>
    public long? Integer(string field, long minimum, long maximum)
    {
        if (Get(field) is not { } node)
        {
            return null;
        }
        if (node is not YamlScalarNode scalar || YamlScalars.Kind(scalar) != YamlScalarKind.Integer || !YamlScalars.TryInteger(scalar.Value!, out long value))
        {
            throw Error(PathOf(field), $"expected an integer, found {Describe(node)}", node);
        }
        return value < minimum || value > maximum
            ? throw Error(PathOf(field), $"{value} is not between {minimum} and {maximum}", node)
            : value;
    }

    /// <summary>A quantity field ("250m", "1Gi", or a bare number, as Kubernetes takes both); null when absent.</summary>
    public ResourceQuantity? Quantity(string field)
    {
        if (Get(field) is not { } node)
        {
            return null;
        }
        if (node is not YamlScalarNode scalar || YamlScalars.Kind(scalar) is YamlScalarKind.Boolean)
        {
            throw Error(PathOf(field), $"expected a quantity such as \"250m\" or \"1Gi\", found {Describe(node)}", node);
        }
        return ResourceQuantity.TryParse(scalar.Value ?? "", out var quantity, out string? error)
            ? quantity
            : throw Error(PathOf(field), error, node);
    }

    /// <summary>A mapping field; null when absent.</summary>
    public ManifestObject? Object(string field)
    {
        if (Get(field) is not { } node)
        {
            return null;
        }
        return node is YamlMappingNode mapping
            ? new ManifestObject(mapping, PathOf(field))
            : throw Error(PathOf(field), $"expected a mapping, found {Describe(node)}", node);
    }

    /// <summary>A list of mappings ("containers"), each at "field[i]"; empty when absent.</summary>
    public IReadOnlyList<ManifestObject> Objects(string field) =>
        Items(field).Select((item, i) => item.Node is YamlMappingNode mapping
            ? new ManifestObject(mapping, item.Path)
            : throw Error(item.Path, $"expected a mapping, found {Describe(item.Node)}", item.Node)).ToList();

    /// <summary>A list of strings; null when absent.</summary>
    public IReadOnlyList<string>? Strings(string field) =>
        Has(field) ? Items(field).Select(item => StringOf(item.Node, item.Path)).ToList() : null;

    /// <summary>A mapping of strings to strings (labels, annotations), in document order; empty when absent.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> StringMap(string field)
    {
        if (Object(field) is not { } map)
        {
            return [];
        }
        return map._fields.Select(f => new KeyValuePair<string, string>(f.Key, StringOf(f.Value.Value, map.PathOf(f.Key)))).ToList();
    }

    /// <summary>An error about <paramref name="field"/> of this mapping, at its line.</summary>
    public PodManifestException ErrorAt(string field, string message) =>
        _fields.TryGetValue(field, out var entry) ? Error(PathOf(field), message, entry.Value) : Error(PathOf(field), message, _node);

    /// <summary>An error about this mapping as a whole.</summary>
    public PodManifestException Error(string message) => Error(Path, message, _node);

    /// <summary>"path.field", or "field" at the top.</summary>
    public static string At(string path, string field) => path.Length == 0 ? field : $"{path}.{field}";

    private static PodManifestException Error(string path, string message, YamlNode node) => new(path, message, (int)node.Start.Line, file: null);

    private static bool IsNull(YamlNode node) => node is YamlScalarNode scalar && YamlScalars.Kind(scalar) == YamlScalarKind.Null;

    private static string Describe(YamlNode node) => node switch
    {
        YamlScalarNode scalar => YamlScalars.Describe(scalar),
        YamlSequenceNode => "a list",
        YamlMappingNode => "a mapping",
        _ => "an alias",
    };

    private static string StringOf(YamlNode node, string path)
    {
        if (node is YamlScalarNode scalar && YamlScalars.Kind(scalar) == YamlScalarKind.String)
        {
            return scalar.Value ?? "";
        }
        string hint = node is YamlScalarNode ? $" (quote it: \"{((YamlScalarNode)node).Value}\")" : "";
        throw Error(path, $"expected a string, found {Describe(node)}{hint}", node);
    }

    private YamlNode? Get(string field) => _fields.TryGetValue(field, out var entry) && !IsNull(entry.Value) ? entry.Value : null;

    private IEnumerable<(YamlNode Node, string Path)> Items(string field)
    {
        if (Get(field) is not { } node)
        {
            return [];
        }
        return node is YamlSequenceNode sequence
            ? sequence.Children.Select((child, i) => (child, $"{PathOf(field)}[{i}]"))
            : throw Error(PathOf(field), $"expected a list, found {Describe(node)}", node);
    }
}
