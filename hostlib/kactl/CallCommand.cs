using System.CommandLine;
using Grpc.Core;
using KataAgent.Host;

namespace KataAgent.Kactl;

/// <summary><c>kactl call RPC [--json JSON | --file PATH]</c>: any unary RPC by name, protobuf JSON in and out.</summary>
public sealed class CallCommand
{
    private readonly GlobalOptions _global;

    private readonly Argument<string> _rpc = new("RPC")
    {
        Description = "RPC name, e.g. GetGuestDetails or Health.Check (see 'kactl rpcs')",
    };

    private readonly Option<string?> _json = new("--json", "-j")
    {
        Description = "The request as protobuf JSON (default {})",
        HelpName = "JSON",
    };

    private readonly Option<string?> _file = new("--file", "-f")
    {
        Description = "Read the request JSON from a file ('-' for stdin)",
        HelpName = "PATH",
    };

    public CallCommand(GlobalOptions global)
    {
        _global = global;
        Command = new Command("call", "Call an agent RPC with a protobuf JSON request and print the JSON response")
        {
            _rpc,
            _json,
            _file,
        };
        Command.Validators.Add(result =>
        {
            if (result.GetResult(_json) is not null && result.GetResult(_file) is not null)
            {
                result.AddError("--json and --file cannot be used together");
            }
        });
        Command.SetAction(KactlCommands.Guard(RunAsync));
    }

    /// <summary>The System.CommandLine command.</summary>
    public Command Command { get; }

    private async Task<int> RunAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        string name = parseResult.GetRequiredValue(_rpc);
        RpcEntry rpc = RpcCatalog.Find(name)
            ?? throw new KactlException(ExitCodes.Usage, $"unknown RPC '{name}'; valid RPCs: {string.Join(", ", RpcCatalog.Names)}");

        string json = await ReadRequestAsync(parseResult, cancellationToken).ConfigureAwait(false);
        var request = ProtobufJson.Parse(json, rpc.InputType, rpc.Name);

        // Connect only now: usage errors (name, JSON) never wait for an agent.
        await using AgentClient client = await _global.ConnectAsync(parseResult, cancellationToken).ConfigureAwait(false);
        var options = new CallOptions(deadline: _global.CallDeadline(parseResult, rpc.IsLongPoll), cancellationToken: cancellationToken);
        Google.Protobuf.IMessage response;
        try
        {
            response = await client.CallInvoker.AsyncUnaryCall(rpc.Method, null, options, request).ConfigureAwait(false);
        }
        catch (RpcException e) when (e.StatusCode != StatusCode.Cancelled || !cancellationToken.IsCancellationRequested)
        {
            throw KactlCommands.RpcFailure(rpc.Name, e);
        }
        await Console.Out.WriteLineAsync(ProtobufJson.Format(response)).ConfigureAwait(false);
        return ExitCodes.Success;
    }

    private async Task<string> ReadRequestAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        if (parseResult.GetValue(_json) is { } inline)
        {
            return inline;
        }
        if (parseResult.GetValue(_file) is not { } path)
        {
            return "{}";
        }
        try
        {
            return path == "-"
                ? await Console.In.ReadToEndAsync(cancellationToken).ConfigureAwait(false)
                : await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new KactlException(ExitCodes.Usage, $"cannot read request file '{path}': {e.Message}", e);
        }
    }
}
