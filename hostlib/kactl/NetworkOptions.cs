using System.CommandLine;
using System.CommandLine.Parsing;
using KataAgent.Host.Network;
using KataAgent.Host.Sandboxes;

namespace KataAgent.Kactl;

/// <summary>
/// <c>kactl run</c>'s pod network options, kept in one place so the VM path only has to call
/// <see cref="ApplyTo"/>: <c>--netns PATH</c> (the pod's network namespace, as CNI leaves it under
/// /var/run/netns), <c>--net tcfilter|macvtap|passt|none</c> (default tcfilter, as Kata), and
/// <c>-p HOSTPORT:PORT[/udp]</c> (passt's inbound ports, repeatable).
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

    public NetworkOptions()
    {
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

    /// <summary>The three options (a bundle run refuses them: there is no VM to wire).</summary>
    public IReadOnlyList<Option> Options => [_netns, _model, _publish];

    /// <summary>Adds the three options to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        command.Options.Add(_netns);
        command.Options.Add(_model);
        command.Options.Add(_publish);
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
        return options with { NetworkNamespacePath = netns, NetworkModel = model, PortForwards = ports };
    }
}
