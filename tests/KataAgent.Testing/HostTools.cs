using System.Diagnostics;
using System.Text;
using CliWrap;
using CliWrap.Buffered;

namespace KataAgent.Testing;

/// <summary>Runs the host tools the tests use and compare against (GNU cpio, ldd, clang, qemu, ip, tc).</summary>
public static class HostTools
{
    /// <summary>Fails with the Debian package to install when <paramref name="program"/> is not on PATH.</summary>
    public static string Require(string program, string debianPackage)
    {
        foreach (string directory in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Join(directory, program);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new InvalidOperationException($"'{program}' is not installed: apt-get install {debianPackage} (build.sh installs it)");
    }

    /// <summary>qemu-system-x86_64, or an error naming its package: every VM test needs it.</summary>
    public static string RequireQemu() => Require("qemu-system-x86_64", "qemu-system-x86");

    /// <summary>Runs a tool to completion and returns its stdout; a non-zero exit throws with its stderr.</summary>
    public static string Run(string program, params string[] args)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        string stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', args)}: exit {process.ExitCode}: {stderr}");
        }
        return stdout.Result;
    }

    /// <summary>Runs a program to completion; throws with its stderr if it exits non-zero.</summary>
    public static async Task<BufferedCommandResult> RunAsync(string program, IEnumerable<string> arguments, string? workingDirectory = null, string? standardInput = null)
    {
        var command = Cli.Wrap(program).WithArguments(arguments).WithValidation(CommandResultValidation.None);
        if (workingDirectory is not null)
        {
            command = command.WithWorkingDirectory(workingDirectory);
        }
        if (standardInput is not null)
        {
            command = command.WithStandardInputPipe(PipeSource.FromString(standardInput));
        }
        var result = await command.ExecuteBufferedAsync();
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} exited with {result.ExitCode}: {result.StandardError}{result.StandardOutput}");
        }
        return result;
    }

    /// <summary>Runs a program with <paramref name="standardInput"/> on stdin and returns its stdout as bytes.</summary>
    public static async Task<byte[]> RunForBytesAsync(string program, IEnumerable<string> arguments, string workingDirectory, string standardInput)
    {
        using var output = new MemoryStream();
        var stderr = new StringBuilder();
        var result = await Cli.Wrap(program).WithArguments(arguments).WithWorkingDirectory(workingDirectory)
            .WithStandardInputPipe(PipeSource.FromString(standardInput))
            .WithStandardOutputPipe(PipeTarget.ToStream(output))
            .WithStandardErrorPipe(PipeTarget.ToStringBuilder(stderr))
            .WithValidation(CommandResultValidation.None)
            .ExecuteAsync();
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} exited with {result.ExitCode}: {stderr}");
        }
        return output.ToArray();
    }

    /// <summary>Unpacks a (gzip or plain) cpio archive into <paramref name="directory"/> with GNU <c>cpio -idm</c>; returns cpio's verbose listing.</summary>
    public static async Task<string> ExtractCpioAsync(string archive, string directory)
    {
        string cpio = Require("cpio", "cpio");
        byte[] bytes = await File.ReadAllBytesAsync(archive);
        if (bytes.Length > 2 && bytes[0] == 0x1F && bytes[1] == 0x8B)
        {
            using var input = new MemoryStream(bytes);
            using var gzip = new System.IO.Compression.GZipStream(input, System.IO.Compression.CompressionMode.Decompress);
            using var plain = new MemoryStream();
            await gzip.CopyToAsync(plain);
            bytes = plain.ToArray();
        }
        Directory.CreateDirectory(directory);
        var result = await Cli.Wrap(cpio).WithArguments(["-idmv", "--no-absolute-filenames"]).WithWorkingDirectory(directory)
            .WithStandardInputPipe(PipeSource.FromBytes(bytes))
            .WithValidation(CommandResultValidation.None)
            .ExecuteBufferedAsync();
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"cpio -idmv exited with {result.ExitCode}: {result.StandardError}");
        }
        return result.StandardError; // GNU cpio lists names (and the block count) on stderr
    }
}
