namespace KataAgent.Agent.Config;

/// <summary>The agent's own command-line flags. Kept tiny and hand-parsed: this runs as PID 1.</summary>
public sealed record AgentArguments
{
    public string? ServerAddress { get; init; }

    public string? LogLevel { get; init; }

    public string? DebugConsoleAddress { get; init; }

    public string? LogPortAddress { get; init; }

    public string? LogListenAddress { get; init; }

    public string? PolicyFile { get; init; }

    public bool ShowHelp { get; init; }

    public bool ShowVersion { get; init; }

    public const string Usage = """
        Usage: kata-agent [--server-addr ADDRESS] [--log LEVEL] [--debug-console ADDRESS]
                          [--log-port ADDRESS|none] [--log-listen ADDRESS|none]
                          [--policy-file PATH]
               kata-agent --version | --help

        Serves the Kata Containers agent API (gRPC over HTTP/2).

          --server-addr ADDRESS  vsock://CID:PORT, serial:///DEVICE, serial://PORT-NAME,
                                 unix:///PATH, unix://@NAME or tcp://127.0.0.1:PORT
                                 (default vsock://-1:1024; also KATA_AGENT_SERVER_ADDR
                                 and agent.server_addr= on the kernel command line)
          --log LEVEL            critical, error, warn, info, debug or trace
                                 (also KATA_AGENT_LOG_LEVEL and agent.log=)
          --debug-console ADDRESS
                                 serve a shell: serial://PORT (one shell, respawned),
                                 vsock://-1:PORT or unix:///PATH (a shell per connection)
                                 (also KATA_AGENT_DEBUG_CONSOLE; agent.debug_console and
                                 agent.debug_console_vport= use serial://agent.debug_console.0
                                 or vsock://-1:N)
          --log-port ADDRESS     copy log lines to this serial port when it exists
                                 (default serial://agent.log.0; also KATA_AGENT_LOG_PORT)
          --log-listen ADDRESS   send log lines to whoever connects: vsock://-1:PORT or
                                 unix:///PATH (also KATA_AGENT_LOG_LISTEN; agent.log_vport=N)
          --policy-file PATH     enforce this agent policy from the start (docs/POLICY.md; also
                                 KATA_AGENT_POLICY_FILE, agent.policy_file=PATH; default
                                 /etc/kataagent/policy.json when it exists)
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
                "--debug-console" => result with { DebugConsoleAddress = Value() },
                "--log-port" => result with { LogPortAddress = Value() },
                "--log-listen" => result with { LogListenAddress = Value() },
                "--policy-file" => result with { PolicyFile = Value() },
                "-h" or "--help" => result with { ShowHelp = true },
                "--version" => result with { ShowVersion = true },
                _ => throw new AgentConfigException($"unknown argument '{args[i]}' (see --help)"),
            };
        }
        return result;
    }
}
