using System.Globalization;
using System.Text;

namespace KataAgent.Agent.Guest.Metrics;

/// <summary>Writes the Prometheus text exposition format (version 0.0.4), family by family.</summary>
public sealed class PrometheusTextWriter
{
    private readonly StringBuilder _text = new(16 * 1024);

    /// <summary>Starts a metric family: its HELP and TYPE lines.</summary>
    public PrometheusTextWriter Family(string name, string help, string type = "gauge")
    {
        _text.Append("# HELP ").Append(name).Append(' ').Append(help.Replace("\\", "\\\\").Replace("\n", "\\n")).Append('\n');
        _text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
        return this;
    }

    /// <summary>One sample without labels.</summary>
    public PrometheusTextWriter Sample(string name, double value)
    {
        _text.Append(name).Append(' ');
        AppendValue(value);
        return this;
    }

    /// <summary>One sample with labels given as name/value pairs.</summary>
    public PrometheusTextWriter Sample(string name, double value, params ReadOnlySpan<(string Name, string Value)> labels)
    {
        _text.Append(name).Append('{');
        for (int i = 0; i < labels.Length; i++)
        {
            if (i > 0)
            {
                _text.Append(',');
            }
            _text.Append(labels[i].Name).Append("=\"");
            foreach (char c in labels[i].Value)
            {
                _ = c switch
                {
                    '\\' => _text.Append("\\\\"),
                    '"' => _text.Append("\\\""),
                    '\n' => _text.Append("\\n"),
                    _ => _text.Append(c),
                };
            }
            _text.Append('"');
        }
        _text.Append("} ");
        AppendValue(value);
        return this;
    }

    public override string ToString() => _text.ToString();

    private void AppendValue(double value)
    {
        _text.Append(double.IsNaN(value) ? "NaN" : double.IsPositiveInfinity(value) ? "+Inf" : double.IsNegativeInfinity(value) ? "-Inf" : value.ToString("R", CultureInfo.InvariantCulture));
        _text.Append('\n');
    }
}
