using System.CommandLine;
using System.Globalization;
using KataAgent.Host;

namespace KataAgent.Kactl;

/// <summary>The options every command accepts (<c>--addr</c>, <c>--protocol</c>, <c>--timeout</c>,
/// <c>--call-timeout</c>) and the connection they describe.</summary>
public sealed class GlobalOptions
{
    /// <summary>Environment variable read when <c>--addr</c> is not given.</summary>
    public const string AddressVariable = "KATA_AGENT_ADDR";

    /// <summary>Default connect timeout, seconds (Kata's dial timeout).</summary>
    public const double DefaultConnectTimeoutSeconds = 30;

    /// <summary>Default deadline of a call that is not a long poll, seconds (the host library's default).</summary>
    public const double DefaultCallTimeoutSeconds = 60;

    public Option<string?> Address { get; } = new("--addr")
    {
        Description = $"Agent address: vsock://CID:PORT, hvsock:///PATH:PORT, serial:///PATH, unix:///PATH, unix://@NAME or tcp://127.0.0.1:PORT (default: ${AddressVariable})",
        HelpName = "ADDR",
        Recursive = true,
    };

    public Option<string?> Protocol { get; } = new("--protocol")
    {
        Description = "RPC protocol to the agent: grpc, ttrpc (Kata's own agent) or detect (a ttrpc Health.Check first; gRPC if the agent drops it). Default: grpc, or what a sandbox was booted with; run --bundle: detect",
        HelpName = "grpc|ttrpc|detect",
        Recursive = true,
    };

    public Option<double> ConnectTimeout { get; } = new("--timeout")
    {
        Description = "Seconds to keep trying until the agent answers Health.Check",
        HelpName = "SECONDS",
        DefaultValueFactory = _ => DefaultConnectTimeoutSeconds,
        Recursive = true,
    };

    public Option<double?> CallTimeout { get; } = new("--call-timeout")
    {
        Description = $"Deadline of the call itself, seconds; 0 for none (default {DefaultCallTimeoutSeconds:0}, none for long polls such as WaitProcess)",
        HelpName = "SECONDS",
        Recursive = true,
    };

    public GlobalOptions()
    {
        Protocol.AcceptOnlyFromAmong("grpc", "ttrpc", "detect");
        OptionChecks.Add(ConnectTimeout, value => !(value > 0) || double.IsInfinity(value)
            ? $"--timeout must be a positive number of seconds, not {value.ToString(CultureInfo.InvariantCulture)}"
            : null);
        OptionChecks.Add(CallTimeout, value => value is { } seconds && (!(seconds >= 0) || double.IsInfinity(seconds))
            ? $"--call-timeout must be 0 or a positive number of seconds, not {seconds.ToString(CultureInfo.InvariantCulture)}"
            : null);
    }

    /// <summary>Adds the options to <paramref name="root"/> (recursive: they work after a subcommand too).</summary>
    public void AddTo(RootCommand root)
    {
        root.Add(Address);
        root.Add(Protocol);
        root.Add(ConnectTimeout);
        root.Add(CallTimeout);
    }

    /// <summary>The address from <c>--addr</c> or <c>$KATA_AGENT_ADDR</c>.</summary>
    /// <exception cref="KactlException">Neither is set (exit 2).</exception>
    public string ResolveAddress(ParseResult parseResult)
    {
        string? address = parseResult.GetValue(Address);
        if (string.IsNullOrEmpty(address))
        {
            address = Environment.GetEnvironmentVariable(AddressVariable);
        }
        if (string.IsNullOrEmpty(address))
        {
            throw new KactlException(ExitCodes.Usage, $"no agent address: pass --addr ADDR or set {AddressVariable}");
        }
        return address;
    }

    /// <summary>The protocol <c>--protocol</c> names, or null when it was not given.</summary>
    public AgentProtocol? ResolveProtocol(ParseResult parseResult) => parseResult.GetValue(Protocol) switch
    {
        "grpc" => AgentProtocol.Grpc,
        "ttrpc" => AgentProtocol.Ttrpc,
        "detect" => AgentProtocol.Detect,
        _ => null,
    };

    /// <summary>The deadline for a call of <paramref name="rpc"/>, or null for none.</summary>
    public DateTime? CallDeadline(ParseResult parseResult, bool isLongPoll)
    {
        double? seconds = parseResult.GetValue(CallTimeout);
        seconds ??= isLongPoll ? 0 : DefaultCallTimeoutSeconds;
        return seconds > 0 ? DateTime.UtcNow + TimeSpan.FromSeconds(seconds.Value) : null;
    }

    /// <summary>Connects to the agent in the protocol <c>--protocol</c> names, else <paramref name="defaultProtocol"/>, mapping failures to kactl exit codes.</summary>
    /// <exception cref="KactlException">Malformed or host-unusable address (exit 2), agent not answering (exit 3).</exception>
    public async Task<AgentClient> ConnectAsync(ParseResult parseResult, CancellationToken cancellationToken, AgentProtocol defaultProtocol = AgentProtocol.Grpc)
    {
        string address = ResolveAddress(parseResult);
        var options = new AgentClientOptions
        {
            ConnectTimeout = TimeSpan.FromSeconds(parseResult.GetValue(ConnectTimeout)),
            Protocol = ResolveProtocol(parseResult) ?? defaultProtocol,
        };
        try
        {
            return await AgentClient.ConnectAsync(address, options, cancellationToken).ConfigureAwait(false);
        }
        catch (FormatException e)
        {
            throw new KactlException(ExitCodes.Usage, e.Message, e);
        }
        catch (AgentConnectException e)
        {
            throw new KactlException(ExitCodes.ConnectFailed, e.Message, e);
        }
        catch (ArgumentException e)
        {
            throw new KactlException(ExitCodes.Usage, WithoutParameterName(e), e);
        }
    }

    private static string WithoutParameterName(ArgumentException e)
    {
        string suffix = $" (Parameter '{e.ParamName}')";
        return e.ParamName is not null && e.Message.EndsWith(suffix, StringComparison.Ordinal) ? e.Message[..^suffix.Length] : e.Message;
    }
}
