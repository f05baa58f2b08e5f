using FluentAssertions;
using KataAgent.Kactl;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Kactl;

/// <summary>kactl run's VM form refuses bad command lines before it boots anything: clear one-line errors, exit 2.</summary>
public sealed class KactlVmCommandLineTests
{
    private const int Usage = 2;

    [Theory]
    [InlineData("512M", 512)]
    [InlineData("1G", 1024)]
    [InlineData("1g", 1024)]
    [InlineData("1536MiB", 1536)]
    [InlineData("2GB", 2048)]
    [InlineData("768", 768)]
    [InlineData("262144K", 256)]
    public void Memory_sizes_take_binary_units_and_bare_mebibytes(string text, int mebibytes)
    {
        MemorySize.Parse(text).Should().Be((mebibytes, (string?)null));
    }

    [Theory]
    [InlineData("", "takes a size")]
    [InlineData("abc", "takes a size")]
    [InlineData("1.5G", "takes a size")]
    [InlineData("-512M", "takes a size")]
    [InlineData("512X", "takes a size")]
    [InlineData("64M", "too small")]
    [InlineData("1000K", "not a whole number of MiB")]
    [InlineData("2T", "too large")]
    [InlineData("99999999999999999999G", "takes a size")]
    public void Bad_memory_sizes_are_named_in_the_error(string text, string reason)
    {
        var (_, error) = MemorySize.Parse(text);

        error.Should().Contain(reason).And.Contain("--memory");
    }

    [Theory]
    [InlineData(new[] { "run" }, "nothing to run")]
    [InlineData(new[] { "run", "--memory", "12Q", "--", "true" }, "--memory takes a size such as 512M or 1G")]
    [InlineData(new[] { "run", "--memory", "64M", "--", "true" }, "at least 128M")]
    [InlineData(new[] { "run", "--cpus", "0", "--", "true" }, "--cpus must be between 1 and 255, not 0")]
    [InlineData(new[] { "run", "--cpus", "256", "--", "true" }, "--cpus must be between 1 and 255, not 256")]
    [InlineData(new[] { "run", "--cpus", "two", "--", "true" }, "Cannot parse argument 'two' for option '--cpus'")]
    [InlineData(new[] { "run", "--id", "../etc", "--", "true" }, "--id '../etc' is not a valid sandbox id")]
    [InlineData(new[] { "--addr", "unix:///tmp/x.sock", "run", "--", "true" }, "--addr is for --bundle")]
    [InlineData(new[] { "run", "--bundle", "/b", "--", "true" }, "--bundle runs the bundle's own process.args")]
    [InlineData(new[] { "run", "--bundle", "/b", "--memory", "1G" }, "--memory is for a VM run")]
    [InlineData(new[] { "run", "--bundle", "/b", "-d" }, "--detach is for a VM run")]
    [InlineData(new[] { "run", "--bundle", "/b", "--stop-timeout", "soon" }, "Cannot parse argument 'soon' for option '--stop-timeout'")]
    [InlineData(new[] { "run", "--net", "passt", "--", "true" }, "--net and -p need --netns PATH")]
    [InlineData(new[] { "run", "--netns", "/var/run/netns/x", "-p", "8080:80", "--", "true" }, "-p needs --net passt; with tcfilter")]
    [InlineData(new[] { "run", "--netns", "/var/run/netns/x", "--net", "passt", "-p", "70000:80", "--", "true" }, "-p '70000:80' is not a port forward")]
    [InlineData(new[] { "run", "--netns", "/var/run/netns/x", "--net", "slirp", "--", "true" }, "slirp")]
    [InlineData(new[] { "run", "--bundle", "/b", "--netns", "/var/run/netns/x" }, "--netns is for a VM run")]
    [InlineData(new[] { "run", "--dns", "ns1.example", "--", "true" }, "--dns 'ns1.example' is not an IP address")]
    [InlineData(new[] { "run", "--dns-search", "a b", "--", "true" }, "--dns-search 'a b' is not a domain name")]
    [InlineData(new[] { "run", "--bundle", "/b", "--dns", "10.0.0.1" }, "--dns is for a VM run")]
    [InlineData(new[] { "--timeout", "abc", "check" }, "Cannot parse argument 'abc' for option '--timeout'")]
    [InlineData(new[] { "exec", "abc" }, "Required argument missing for command: 'exec'")]
    [InlineData(new[] { "rm" }, "Required argument missing for command: 'rm'")]
    [InlineData(new[] { "logs" }, "Required argument missing for command: 'logs'")]
    [InlineData(new[] { "console" }, "Required argument missing for command: 'console'")]
    public async Task Bad_command_lines_exit_2_with_a_message_naming_the_problem(string[] arguments, string message)
    {
        var result = await KactlRunner.RunAsync(arguments);

        result.ExitCode.Should().Be(Usage, KactlRunner.Describe(result));
        result.StandardOutput.Should().BeEmpty();
        result.StandardError.Should().StartWith("kactl: ").And.Contain(message);
    }

    [Theory]
    [InlineData("kernel", "--kernel", "KACTL_KERNEL", "out/vmlinuz")]
    [InlineData("initrd", "--initrd", "KACTL_INITRD", "out/initrd.img")]
    [InlineData("rootfs directory", "--rootfs", "KACTL_ROOTFS", "out/rootfs")]
    public async Task A_missing_kernel_initrd_or_rootfs_is_named_with_how_to_get_one(string what, string option, string variable, string built)
    {
        using var directory = new TempDirectory();
        File.WriteAllText(directory.File("vmlinuz"), "");
        File.WriteAllText(directory.File("initrd.img"), "");
        Directory.CreateDirectory(directory.File("rootfs"));
        var environment = new Dictionary<string, string?>
        {
            ["KACTL_KERNEL"] = directory.File("vmlinuz"),
            ["KACTL_INITRD"] = directory.File("initrd.img"),
            ["KACTL_ROOTFS"] = directory.File("rootfs"),
            ["KACTL_RUN_DIR"] = directory.File("run"),
        };
        string missing = directory.File("missing");
        environment[variable] = missing;

        var result = await KactlRunner.RunAsync(["run", "--", "true"], environment: environment);

        result.ExitCode.Should().Be(Usage, KactlRunner.Describe(result));
        result.StandardError.Should().Be($"kactl: the {what} {missing} does not exist (./build.sh makes {built}; or give {option} {(option == "--rootfs" ? "DIR" : "FILE")} or ${variable})\n");
        Directory.Exists(directory.File("run")).Should().BeFalse("nothing is created before the inputs are checked");
    }

    [Fact]
    public async Task Tty_and_detach_do_not_go_together()
    {
        var result = await KactlRunner.RunAsync(["run", "--tty", "-d", "--kernel", RepoPaths.KactlBinary, "--initrd", RepoPaths.KactlBinary, "--rootfs", RepoPaths.Root, "--", "sh"]);

        result.ExitCode.Should().Be(Usage, KactlRunner.Describe(result));
        result.StandardError.Should().Contain("--tty and --detach do not go together");
    }

    [Fact]
    public async Task Help_documents_the_vm_commands_and_the_console_detach_key()
    {
        var root = await KactlRunner.RunAsync(["--help"]);
        var console = await KactlRunner.RunAsync(["console", "--help"]);

        root.ExitCode.Should().Be(0);
        foreach (string command in new[] { "run", "ps", "exec", "logs", "rm", "console" })
        {
            root.StandardOutput.Should().MatchRegex($@"(?m)^\s+{command}\b");
        }
        console.StandardOutput.Should().Contain("Ctrl-] detaches");
    }
}
