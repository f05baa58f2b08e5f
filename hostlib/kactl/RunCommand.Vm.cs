using System.CommandLine;

namespace KataAgent.Kactl;

/// <summary><c>kactl run [--cpus N] [--memory SIZE] [--rootfs DIR] [--tty] [-d] [--kernel K] [--initrd I] -- CMD…</c>: a VM of its own.</summary>
public sealed partial class RunCommand
{
    private async Task<int> RunVmAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var request = ReadVmRequest(parseResult);
        await Task.CompletedTask.ConfigureAwait(false);
        throw new KactlException(ExitCodes.VmFailed, $"booting {request.KernelPath}: not wired to the Sandbox API yet");
    }

    /// <summary>The request from the command line, with every file checked before anything is booted.</summary>
    /// <exception cref="KactlException">A kernel, initrd or rootfs that is not there (exit 2).</exception>
    private VmRunRequest ReadVmRequest(ParseResult parseResult)
    {
        var request = new VmRunRequest
        {
            Args = parseResult.GetRequiredValue(_command),
            KernelPath = VmDefaults.Kernel(parseResult.GetValue(_kernel)),
            InitrdPath = VmDefaults.Initrd(parseResult.GetValue(_initrd)),
            RootfsDirectory = VmDefaults.Rootfs(parseResult.GetValue(_rootfs)),
            Cpus = parseResult.GetValue(_cpus),
            MemoryMiB = parseResult.GetResult(_memory) is null ? DefaultMemoryMiB : parseResult.GetValue(_memory),
            // --tty alone parses as "present, no value".
            Terminal = parseResult.GetValue(_tty) ?? parseResult.GetResult(_tty) is not null,
            Detach = parseResult.GetValue(_detach),
            Id = parseResult.GetValue(_id),
            Progress = !parseResult.GetValue(_quiet),
            StopTimeout = TimeSpan.FromSeconds(parseResult.GetValue(_stopTimeout)),
            UseStreaming = !parseResult.GetValue(_noStreaming),
        };
        RequireFile(request.KernelPath, "kernel", "--kernel", VmDefaults.KernelVariable, "out/vmlinuz");
        RequireFile(request.InitrdPath, "initrd", "--initrd", VmDefaults.InitrdVariable, "out/initrd.img");
        if (!Directory.Exists(request.RootfsDirectory))
        {
            throw new KactlException(ExitCodes.Usage, $"the rootfs directory {request.RootfsDirectory} does not exist (./build.sh makes out/rootfs; or give --rootfs DIR or ${VmDefaults.RootfsVariable})");
        }
        if (request.Detach && request.Terminal)
        {
            throw new KactlException(ExitCodes.Usage, "--tty and --detach do not go together: a detached container has no one at its terminal (use 'kactl exec ID --tty -- sh' or 'kactl console ID' later)");
        }
        return request;
    }

    private static void RequireFile(string path, string what, string option, string variable, string built)
    {
        if (!File.Exists(path))
        {
            throw new KactlException(ExitCodes.Usage, $"the {what} {path} does not exist (./build.sh makes {built}; or give {option} FILE or ${variable})");
        }
    }
}
