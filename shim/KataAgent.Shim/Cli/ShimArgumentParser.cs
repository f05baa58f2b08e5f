using System.Collections;

namespace KataAgent.Shim.Cli;

/// <summary>
/// Parses the shim's command line as Go's <c>flag</c> package does, with the flags containerd's shim library
/// defines (<c>runtime/v2/shim/shim.go</c>): <c>-flag value</c>, <c>-flag=value</c>, <c>--flag</c> alike; a boolean
/// takes a value only after <c>=</c>; parsing stops at the first argument that is not a flag, or after <c>--</c>;
/// the first argument left is the action word. The environment gives <c>TTRPC_ADDRESS</c>.
/// </summary>
internal static class ShimArgumentParser
{
    /// <summary>The usage text, one line per flag as Go prints it.</summary>
    public const string Usage = """
        Usage: containerd-shim-kataagent-v2 [flags] [start|delete]
          -address string
                grpc address back to main containerd
          -bundle string
                path to the bundle if not workdir
          -debug
                enable debug output in logs
          -id string
                id of the task
          -namespace string
                namespace that owns the shim
          -publish-binary string
                path to publish binary (used for publishing events) (default "containerd")
          -socket string
                socket path to serve
          -v    show the shim version and exit
        """;

    private static readonly string[] BooleanFlags = ["debug", "v"];
    private static readonly string[] StringFlags = ["address", "bundle", "id", "namespace", "publish-binary", "socket"];

    /// <summary>Whether <c>-v</c> was given; checked before anything else is required, as Go's shim does.</summary>
    public static bool WantsVersion(IReadOnlyList<string> args)
    {
        var (flags, _) = Scan(args);
        return flags.TryGetValue("v", out string? value) && value == "true";
    }

    /// <summary>Parses <paramref name="args"/> (without the program name).</summary>
    /// <param name="args">The command line after the program name.</param>
    /// <param name="environment">The process environment (<c>TTRPC_ADDRESS</c>).</param>
    /// <param name="workingDirectory">The bundle when <c>-bundle</c> is absent (containerd starts us there).</param>
    /// <exception cref="ShimUsageException">A flag Go would refuse, or a missing or invalid namespace or id.</exception>
    public static ShimArguments Parse(IReadOnlyList<string> args, IDictionary environment, string workingDirectory)
    {
        var (flags, positional) = Scan(args);
        string action = positional.Count > 0 ? positional[0] : "";
        if (action is not ("" or "start" or "delete"))
            throw new ShimUsageException($"unknown action '{action}': the shim takes 'start', 'delete' or none (the daemon)");

        string ns = flags.GetValueOrDefault("namespace", "");
        if (ns.Length == 0)
            throw new ShimUsageException("shim namespace cannot be empty (-namespace)");
        if (ContainerdIdentifier.Problem(ns) is { } nsProblem)
            throw new ShimUsageException($"-namespace {nsProblem}");
        string id = flags.GetValueOrDefault("id", "");
        if (ContainerdIdentifier.Problem(id) is { } idProblem)
            throw new ShimUsageException($"-id {idProblem}");

        string bundle = flags.GetValueOrDefault("bundle", "");
        if (bundle.Length == 0)
            bundle = workingDirectory;
        if (!Path.IsPathFullyQualified(bundle))
            bundle = Path.GetFullPath(bundle, workingDirectory);
        string? socket = flags.GetValueOrDefault("socket", "");

        return new ShimArguments
        {
            Namespace = ns,
            Id = id,
            ContainerdAddress = flags.GetValueOrDefault("address", ""),
            TtrpcAddress = environment["TTRPC_ADDRESS"] as string ?? "",
            PublishBinary = flags.GetValueOrDefault("publish-binary", "containerd"),
            Bundle = bundle,
            Socket = socket.Length == 0 ? null : socket,
            Debug = flags.GetValueOrDefault("debug", "false") == "true",
            Action = action,
        };
    }

    /// <summary>Go's <c>FlagSet.Parse</c>: the flags set (booleans as "true"/"false") and the arguments left.</summary>
    private static (Dictionary<string, string> Flags, List<string> Positional) Scan(IReadOnlyList<string> args)
    {
        var flags = new Dictionary<string, string>(StringComparer.Ordinal);
        int i = 0;
        while (i < args.Count)
        {
            string arg = args[i];
            if (arg.Length < 2 || arg[0] != '-')
                break;
            i++;
            int dashes = 1;
            if (arg[1] == '-')
            {
                dashes = 2;
                if (arg.Length == 2)
                    break; // "--" ends the flags
            }
            string name = arg[dashes..];
            if (name.Length == 0 || name[0] == '-' || name[0] == '=')
                throw new ShimUsageException($"bad flag syntax: {arg}");
            string? value = null;
            int equals = name.IndexOf('=', StringComparison.Ordinal);
            if (equals >= 0)
            {
                value = name[(equals + 1)..];
                name = name[..equals];
            }
            if (BooleanFlags.Contains(name))
            {
                flags[name] = value is null ? "true" : ParseBool(name, value);
            }
            else if (StringFlags.Contains(name))
            {
                if (value is null)
                {
                    if (i >= args.Count)
                        throw new ShimUsageException($"flag needs an argument: -{name}");
                    value = args[i++];
                }
                flags[name] = value;
            }
            else if (name is "help" or "h")
            {
                throw new ShimUsageException(Usage) { HelpRequested = true };
            }
            else
            {
                throw new ShimUsageException($"flag provided but not defined: -{name}");
            }
        }
        return (flags, args.Skip(i).ToList());
    }

    /// <summary>Go's <c>strconv.ParseBool</c>.</summary>
    private static string ParseBool(string name, string value) => value switch
    {
        "1" or "t" or "T" or "true" or "TRUE" or "True" => "true",
        "0" or "f" or "F" or "false" or "FALSE" or "False" => "false",
        _ => throw new ShimUsageException($"invalid boolean value \"{value}\" for -{name}: parse error"),
    };
}
