using KataAgent.Shim.Cli;
using KataAgent.Shim.Daemon;
using KataAgent.Shim.Interop;

// containerd-shim-kataagent-v2: `start` and `delete` are short commands containerd runs (their stdout is the
// contract: an address, a DeleteResponse); without an action word this is the daemon `start` spawned.
string program = Environment.ProcessPath ?? "containerd-shim-kataagent-v2";
ShimArguments arguments;
try
{
    if (ShimArgumentParser.WantsVersion(args))
    {
        Console.Out.Write(VersionCommand.Text(program));
        return 0;
    }
    arguments = ShimArgumentParser.Parse(args, Environment.GetEnvironmentVariables(), Environment.CurrentDirectory);
}
catch (ShimUsageException e)
{
    // Go's flag package: the usage asked for exits 0, a bad command line 2.
    Console.Error.WriteLine(e.HelpRequested ? e.Message : $"containerd-shim-kataagent-v2: {e.Message}");
    return e.HelpRequested ? 0 : 2;
}

try
{
    switch (arguments.Action)
    {
        case "start":
        {
            var options = RuntimeOptionsReader.ReadStdin(Console.OpenStandardInput(), ShimLibc.IsATty(0) == 1);
            string address = StartCommand.Run(arguments, options, program);
            using var stdout = Console.OpenStandardOutput();
            stdout.Write(System.Text.Encoding.UTF8.GetBytes(address));
            return 0;
        }
        case "delete":
        {
            using var stdout = Console.OpenStandardOutput();
            await DeleteCommand.RunAsync(arguments, stdout, CancellationToken.None);
            return 0;
        }
        default:
            return await ShimDaemon.RunAsync(arguments);
    }
}
catch (Exception e)
{
    // containerd puts a failed start's or delete's output into its error text: one line that says why.
    Console.Error.WriteLine($"containerd-shim-kataagent-v2: {e.Message}");
    return 1;
}
