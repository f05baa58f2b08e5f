using System.CommandLine;
using System.CommandLine.Parsing;
using KataAgent.Host.Network;
using KataAgent.Host.Sandboxes;

namespace KataAgent.Kactl;

/// <summary>
/// <c>kactl run</c>'s pod network options, kept in one place so the VM path only has to call
/// <see cref="ApplyTo"/>: <c>--netns PATH</c> (the pod's network namespace, as CNI leaves it under
/// /var/run/netns), <c>--net tcfilter|macvtap|passt|none</c> (default tcfilter, as Kata), and
/// <c>-p HOSTPORT:PORT[/udp]</c> (passt's inbound ports, repeatable), <c>--dns ADDRESS</c> and
/// <c>--dns-search DOMAIN</c> (the containers' resolv.conf, repeatable).
/// </summary>
public sealed class NetworkOptions
{
    private readonly Option<string?> _netns = new("--netns")
    {
        Description = "Run the VM in this network namespace and wire its interfaces into the guest (e.g. /var/run/netns/NAME)",
        HelpName = "PATH",
    };

    private readonly Option<string> _model = new("--net")
    {
        Description = "How the pod's interfaces reach the VM: tcfilter (tap + tc redirect, Kata's default), macvtap, passt (user mode; no tap), none",
        HelpName = "MODEL",
        DefaultValueFactory = _ => "tcfilter",
    };

    private readonly Option<string[]> _publish = new("--publish", "-p")
    {
        Description = "With --net passt: forward HOSTPORT in the pod netns to PORT in the guest (HOSTPORT:PORT or PORT, /tcp or /udp); repeatable",
        HelpName = "HOSTPORT:PORT",
        AllowMultipleArgumentsPerToken = false,
    };

    private readonly Option<string[]> _dns = new("--dns")
    {
        Description = "A name server for the containers' /etc/resolv.conf (and the guest's); repeatable",
        HelpName = "ADDRESS",
        AllowMultipleArgumentsPerToken = false,
    };

    private readonly Option<string[]> _dnsSearch = new("--dns-search")
    {
        Description = "A search domain for the containers' /etc/resolv.conf; repeatable",
        HelpName = "DOMAIN",
        AllowMultipleArgumentsPerToken = false,
    };

    public NetworkOptions()
    {
        _dns.Validators.Add(result =>
        {
            foreach (string text in result.GetValueOrDefault<string[]>() ?? [])
            {
                if (!System.Net.IPAddress.TryParse(text, out _))
                {
                    result.AddError($"--dns '{text}' is not an IP address");
                }
            }
        });
        _dnsSearch.Validators.Add(result =>
        {
            foreach (string text in result.GetValueOrDefault<string[]>() ?? [])
            {
                if (text.Length == 0 || text.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
                {
                    result.AddError($"--dns-search '{text}' is not a domain name");
                }
            }
        });
        _model.AcceptOnlyFromAmong("tcfilter", "macvtap", "passt", "none");
        _publish.Validators.Add(result =>
        {
            foreach (string text in result.GetValueOrDefault<string[]>() ?? [])
            {
                try
                {
                    PortForward.Parse(text);
                }
                catch (FormatException e)
                {
                    result.AddError($"-p {e.Message}");
                }
            }
        });
    }

    /// <summary>The options (a bundle run refuses them: there is no VM to wire).</summary>
    public IReadOnlyList<Option> Options => [_netns, _model, _publish, _dns, _dnsSearch];

    /// <summary>Adds the options to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        foreach (var option in Options)
        {
            command.Options.Add(option);
        }
    }

    /// <summary>Parse-time checks of the VM form: --net and -p need --netns, -p needs passt.</summary>
    public void Validate(CommandResult result)
    {
        bool netns = result.GetResult(_netns) is { Implicit: false };
        bool model = result.GetResult(_model) is { Implicit: false };
        bool ports = result.GetValue(_publish) is { Length: > 0 };
        if (!netns && (model || ports))
        {
            result.AddError("--net and -p need --netns PATH (the pod's network namespace)");
        }
        else if (ports && (result.GetValue(_model) ?? "tcfilter") is var chosen && chosen != "passt")
        {
            result.AddError($"-p needs --net passt; with {chosen} the guest answers at the pod IP itself");
        }
    }

    /// <summary>The sandbox options with the pod network asked for on the command line (checked by <see cref="Validate"/>).</summary>
    public SandboxOptions ApplyTo(ParseResult parseResult, SandboxOptions options)
    {
        string? netns = parseResult.GetValue(_netns);
        var model = parseResult.GetValue(_model) switch
        {
            "macvtap" => NetworkModel.Macvtap,
            "passt" => NetworkModel.Passt,
            "none" => NetworkModel.None,
            _ => NetworkModel.TcFilter,
        };
        var ports = (parseResult.GetValue(_publish) ?? []).Select(PortForward.Parse).ToList();
        var dns = (parseResult.GetValue(_dns) ?? []).Select(address => "nameserver " + address).ToList();
        if (parseResult.GetValue(_dnsSearch) is { Length: > 0 } domains)
        {
            dns.Add("search " + string.Join(' ', domains));
        }
        return options with { Vm = options.Vm with { NetworkNamespacePath = netns }, NetworkModel = model, PortForwards = ports, Dns = dns };
    }
}
