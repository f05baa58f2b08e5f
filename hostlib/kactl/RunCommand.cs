using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using KataAgent.Host.Vm;
using KataAgent.Kactl.Images;

namespace KataAgent.Kactl;

/// <summary>
/// <c>kactl run</c>, in three forms. <c>kactl run [VM options] IMAGE [-- CMD…]</c> pulls IMAGE as <c>--pull</c>
/// says, boots a VM of its own and runs the image's process (CMD replacing its Cmd) in a container of the unpacked
/// image (RunCommand.Image.cs). <c>kactl run [VM options] -- CMD…</c> does the same with CMD in a rootfs directory
/// (RunCommand.Vm.cs). <c>kactl --addr ADDR run --bundle DIR</c> runs an OCI bundle on an agent that already runs
/// (RunCommand.Bundle.cs). All attach kactl's stdio and exit with the container's status. The words before
/// <c>--</c> are the image (one at most), the words after it the command.
/// </summary>
public sealed partial class RunCommand
{
    /// <summary>The command's name; it handles SIGINT/SIGTERM itself (see <see cref="InterruptSignals"/>).</summary>
    public const string Name = "run";

    /// <summary>vCPUs of a VM unless <c>--cpus</c> says otherwise.</summary>
    public const int DefaultCpus = 1;

    /// <summary>Guest memory unless <c>--memory</c> says otherwise.</summary>
    public const int DefaultMemoryMiB = 512;

    // qemu's q35 machine takes up to 288 vCPUs; a byte keeps typos like --cpus 1000 out.
    private const int MaximumCpus = 255;

    private readonly GlobalOptions _global;

    private readonly Option<string?> _bundle = new("--bundle", "-b")
    {
        Description = "Run this OCI bundle (config.json as 'runc spec' / 'crun spec' write it, and its root filesystem) on the agent at --addr instead of booting a VM",
        HelpName = "DIR",
    };

    private readonly Option<string?> _id = new("--id")
    {
        Description = "Container id with --bundle, sandbox id for a VM (default: random hex digits, 12 and 8)",
        HelpName = "ID",
    };

    private readonly Option<bool?> _tty = new("--tty", "-t")
    {
        Description = "Give the process a terminal (with --bundle it overrides process.terminal; --tty=false for none). The local terminal is put in raw mode when stdin is one",
        Arity = ArgumentArity.ZeroOrOne,
    };

    private readonly Option<int> _cpus = new("--cpus")
    {
        Description = "vCPUs of the VM",
        HelpName = "N",
        DefaultValueFactory = _ => DefaultCpus,
    };

    private readonly Option<int> _memory = new("--memory", "-m")
    {
        Description = $"Memory of the VM: 512M, 1G, … (a bare number is MiB; default {DefaultMemoryMiB}M)",
        HelpName = "SIZE",
        CustomParser = result =>
        {
            var (mebibytes, error) = MemorySize.Parse(result.Tokens.Count == 1 ? result.Tokens[0].Value : "");
            if (error is not null)
            {
                result.AddError(error);
            }
            return mebibytes;
        },
    };

    private readonly Option<string?> _rootfs = new("--rootfs")
    {
        Description = $"The container's root filesystem, a directory (default: rootfs next to kactl, i.e. out/rootfs, or ${VmDefaults.RootfsVariable})",
        HelpName = "DIR",
    };

    private readonly Option<string> _rootfsMode = new("--rootfs-mode")
    {
        Description = "How the container gets --rootfs: virtio-fs (shared through the sandbox's virtio-fs share as a copy-on-write overlay, so DIR is never written; the default) or blk (packed into an ext4 image on a hot-plugged virtio-blk disk: what a VM snapshot can carry)",
        HelpName = "MODE",
        DefaultValueFactory = _ => "virtio-fs",
    };

    private readonly Option<bool> _detach = new("--detach", "-d")
    {
        Description = "Leave the VM running: print the sandbox id and exit once the container started (then: kactl ps, exec, logs, console, rm)",
    };

    private readonly Option<string?> _kernel = new("--kernel")
    {
        Description = $"The guest kernel (default: vmlinuz next to kactl, i.e. out/vmlinuz, or ${VmDefaults.KernelVariable})",
        HelpName = "FILE",
    };

    private readonly Option<string?> _initrd = new("--initrd")
    {
        Description = $"The guest initrd with the agent as /init (default: initrd.img next to kactl, i.e. out/initrd.img, or ${VmDefaults.InitrdVariable})",
        HelpName = "FILE",
    };

    private readonly Option<bool> _quiet = new("--quiet", "-q")
    {
        Description = "No progress lines on stderr (booting, agent ready, container started)",
    };

    private readonly Option<QemuAgentChannel> _agentChannel = new("--agent-channel")
    {
        Description = "How kactl reaches the VM's agent: vsock (any number of connections at once: exec, logs and console while a run is attached) or serial (one connection at a time; what a VM snapshot can carry)",
        HelpName = "vsock|serial",
        DefaultValueFactory = _ => QemuAgentChannel.Vsock,
    };

    private readonly Argument<string[]> _command = new("[IMAGE] -- CMD")
    {
        Description = "The image to run (one word before --; none: the --rootfs directory), and the program to run with its arguments (after --; with an IMAGE it replaces the image's Cmd)",
        Arity = ArgumentArity.ZeroOrMore,
    };

    private readonly Option<string> _pull = new("--pull")
    {
        Description = "With IMAGE: pull it into the host's store when the store lacks it (missing, the default), every time (always: a moved tag is followed), or never; or inside the VM (guest: the host holds no layer or rootfs of it; needs a guest image built with kata-rootfs build --guest-pull, initrd-guest-pull.img next to kactl by default, and a network the VM reaches the registry over)",
        HelpName = "missing|always|never|guest",
        DefaultValueFactory = _ => "missing",
    };

    private readonly Option<string[]> _env = new("--env", "-e")
    {
        Description = "Set NAME=value in the process's environment (over the image's or the default one); repeat for more",
        HelpName = "NAME=VALUE",
    };

    private readonly Option<string?> _entrypoint = new("--entrypoint")
    {
        Description = "With IMAGE: run this executable instead of the image's Entrypoint (its Cmd is dropped; the words after -- are its arguments)",
        HelpName = "PATH",
    };

    private readonly Option<string?> _user = new("--user", "-u")
    {
        Description = "With IMAGE: run as user, uid, user:group or uid:gid (names from the image's /etc/passwd and /etc/group) instead of the image's User",
        HelpName = "USER",
    };

    private readonly Option<string?> _workdir = new("--workdir", "-w")
    {
        Description = "The process's working directory, absolute (default: the image's WorkingDir, or /)",
        HelpName = "DIR",
    };

    private readonly ImageOptions _images = new();

    private readonly Option<double> _stopTimeout;
    private readonly Option<bool> _noStreaming;
    private readonly NetworkOptions _network = new();

    public RunCommand(GlobalOptions global)
    {
        _global = global;
        _stopTimeout = StopTimeoutOption();
        _noStreaming = NoStreamingOption();
        _rootfsMode.AcceptOnlyFromAmong("virtio-fs", "blk");
        _pull.AcceptOnlyFromAmong("missing", "always", "never", "guest");
        OptionChecks.Add(_cpus, cpus => cpus is < 1 or > MaximumCpus
            ? $"--cpus must be between 1 and {MaximumCpus}, not {cpus.ToString(CultureInfo.InvariantCulture)}"
            : null);
        Command = new Command(Name, "Boot a VM and run an image's process in a container there (kactl run [options] IMAGE [-- CMD…], pulled as --pull says), or CMD in a rootfs directory (kactl run [options] -- CMD…), or run an OCI bundle on an agent (kactl --addr ADDR run --bundle DIR); stdio attached, exit with the container's status")
        {
            _command,
            _cpus,
            _memory,
            _rootfs,
            _rootfsMode,
            _tty,
            _detach,
            _kernel,
            _initrd,
            _quiet,
            _id,
            _agentChannel,
            _bundle,
            _stopTimeout,
            _noStreaming,
            _pull,
            _env,
            _entrypoint,
            _user,
            _workdir,
        };
        _images.AddTo(Command, registry: true);
        _network.AddTo(Command);
        Command.Validators.Add(ValidateForm);
        Command.SetAction(KactlCommands.Guard((parseResult, cancellationToken) =>
            parseResult.GetValue(_bundle) is null ? RunVmAsync(parseResult, cancellationToken) : RunBundleAsync(parseResult, cancellationToken)));
    }

    /// <summary>The System.CommandLine command.</summary>
    public Command Command { get; }

    /// <summary><c>--stop-timeout</c>, shared with <c>exec</c>.</summary>
    internal static Option<double> StopTimeoutOption()
    {
        var option = new Option<double>("--stop-timeout")
        {
            Description = "After an interrupt (Ctrl-C, SIGTERM): seconds between SIGTERM to the process and killing it",
            HelpName = "SECONDS",
            DefaultValueFactory = _ => 10,
        };
        OptionChecks.Add(option, value => !(value >= 0) || double.IsInfinity(value)
            ? $"--stop-timeout must be 0 or a positive number of seconds, not {value.ToString(CultureInfo.InvariantCulture)}"
            : null);
        return option;
    }

    /// <summary><c>--no-streaming</c>, shared with <c>exec</c>.</summary>
    internal static Option<bool> NoStreamingOption() => new("--no-streaming")
    {
        Description = "Carry stdio with Kata's unary calls (ReadStdout/WriteStdin) even when the agent has the kataagent.v1 streaming extension",
    };

    /// <summary>The two forms do not mix: a bundle brings its own command and needs an agent; a VM run needs a command.</summary>
    private void ValidateForm(CommandResult result)
    {
        bool bundle = Given(result, _bundle);
        if (bundle)
        {
            if (result.GetValue(_command) is { Length: > 0 } command)
            {
                result.AddError($"--bundle runs the bundle's own process.args; drop the command ('{string.Join(' ', command)}') or --bundle");
            }
            foreach (Option vmOnly in (Option[])[_cpus, _memory, _rootfs, _rootfsMode, _detach, _kernel, _initrd, _agentChannel, _pull, _env, _entrypoint, _user, _workdir, _images.Store, .. _images.RegistryOptions, .. _network.Options])
            {
                if (Given(result, vmOnly))
                {
                    result.AddError($"{vmOnly.Name} is for a VM run (kactl run -- CMD); --bundle uses the agent at --addr");
                }
            }
            return;
        }
        _network.Validate(result);
        if (Given(result, _global.Address))
        {
            result.AddError("--addr is for --bundle (an agent that already runs); 'kactl run -- CMD' boots a VM of its own");
        }
        // A sandbox id names a directory; a bundle's container id is the agent's to judge.
        if (result.GetValue(_id) is { } id && !Sandboxes.RunDirectory.IsValidId(id))
        {
            result.AddError($"--id '{id}' is not a valid sandbox id (up to 64 letters, digits, '-', '_' and '.', starting with a letter or digit)");
        }
        if (result.GetValue(_command) is not { Length: > 0 })
        {
            result.AddError("nothing to run: give an image (kactl run busybox), a command after -- (e.g. kactl run -- sh -c 'uname -a'), or --bundle DIR with --addr");
        }
    }

    private static bool Given(CommandResult result, Option option) => result.GetResult(option) is { Implicit: false };
}
