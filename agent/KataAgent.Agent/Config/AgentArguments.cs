namespace KataAgent.Agent.Config;

/// <summary>The agent's own command-line flags. Kept tiny and hand-parsed: this runs as PID 1.</summary>
public sealed record AgentArguments
{
    public string? ServerAddress { get; init; }

    public string? LogLevel { get; init; }

    public bool ShowHelp { get; init; }

    public bool ShowVersion { get; init; }

    public const string Usage = """
        Usage: kata-agent [--server-addr ADDRESS] [--log LEVEL]
               kata-agent --version | --help

        Serves the Kata Containers agent API (gRPC over HTTP/2).

          --server-addr ADDRESS  vsock://CID:PORT, serial:///DEVICE, serial://PORT-NAME,
                                 unix:///PATH, unix://@NAME or tcp://127.0.0.1:PORT
                                 (default vsock://-1:1024; also KATA_AGENT_SERVER_ADDR
                                 and agent.server_addr= on the kernel command line)
          --log LEVEL            critical, error, warn, info, debug or trace
                                 (also KATA_AGENT_LOG_LEVEL and agent.log=)
        """;

    /// <summary>Parses flags; throws <see cref="AgentConfigException"/> naming a bad flag.</summary>
    public static AgentArguments Parse(IReadOnlyList<string> args)
    {
        var result = new AgentArguments();
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            string? inlineValue = null;
            int equals = arg.IndexOf('=');
            if (arg.StartsWith("--", StringComparison.Ordinal) && equals > 0)
            {
                inlineValue = arg[(equals + 1)..];
                arg = arg[..equals];
            }
            string Value()
            {
                if (inlineValue is not null)
                {
                    return inlineValue;
                }
                if (i + 1 >= args.Count)
                {
                    throw new AgentConfigException($"{arg}: needs a value");
                }
                return args[++i];
            }
            result = arg switch
            {
                "--server-addr" => result with { ServerAddress = Value() },
                "--log" => result with { LogLevel = Value() },
                "-h" or "--help" => result with { ShowHelp = true },
                "--version" => result with { ShowVersion = true },
                _ => throw new AgentConfigException($"unknown argument '{args[i]}' (see --help)"),
            };
        }
        return result;
    }
}
