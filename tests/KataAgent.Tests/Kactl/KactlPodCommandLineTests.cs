using FluentAssertions;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Kactl;

/// <summary>out/kactl pod: help, argument errors and manifest errors, all before any VM is booted (in a run directory of the test's own).</summary>
public sealed class KactlPodCommandLineTests : IDisposable
{
    private const int Usage = 2;
    private const int VmFailed = 1;

    private readonly TempDirectory _runDirectory = new();

    private Dictionary<string, string?> Environment => new() { ["KACTL_RUN_DIR"] = _runDirectory.Path };

    public void Dispose() => _runDirectory.Dispose();

    [Fact]
    public async Task Pod_help_lists_every_subcommand()
    {
        var result = await KactlRunner.RunAsync(["pod", "--help"], environment: Environment);

        result.ExitCode.Should().Be(0, KactlRunner.Describe(result));
        foreach (string subcommand in new[] { "run", "ps", "logs", "exec", "resize", "rm" })
        {
            result.StandardOutput.Should().MatchRegex($@"(?m)^\s+{subcommand}\b", subcommand);
        }
        var root = await KactlRunner.RunAsync(["--help"], environment: Environment);
        root.StandardOutput.Should().MatchRegex(@"(?m)^\s+pod\b");
    }

    [Fact]
    public async Task Pod_run_needs_a_manifest()
    {
        var result = await KactlRunner.RunAsync(["pod", "run"], environment: Environment);

        result.ExitCode.Should().Be(Usage, KactlRunner.Describe(result));
        result.StandardError.Should().Contain("--filename");
    }

    [Fact]
    public async Task Pod_run_of_a_missing_file_exits_2_naming_it()
    {
        string file = _runDirectory.File("none.yaml");
        var result = await KactlRunner.RunAsync(["pod", "run", "-f", file], environment: Environment);

        result.ExitCode.Should().Be(Usage, KactlRunner.Describe(result));
        result.StandardError.Should().Contain(file);
    }

    [Fact]
    public async Task Pod_run_of_a_manifest_with_an_unsupported_field_names_file_line_and_field()
    {
        string file = _runDirectory.File("pod.yaml");
        await File.WriteAllTextAsync(file, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n    - name: app\n      image: busybox\n      livenessProbe:\n        exec: {command: [\"true\"]}\n");

        var result = await KactlRunner.RunAsync(["pod", "run", "-f", file], environment: Environment);

        result.ExitCode.Should().Be(Usage, KactlRunner.Describe(result));
        result.StandardError.Should().Contain($"kactl: {file}:9: spec.containers[0].livenessProbe: not supported");
        Directory.EnumerateDirectories(_runDirectory.Path).Should().BeEmpty("no sandbox is created for a manifest that does not load");
    }

    [Fact]
    public async Task Pod_run_of_a_bad_quantity_names_the_field()
    {
        string file = _runDirectory.File("pod.json");
        await File.WriteAllTextAsync(file, """{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox", "resources": {"limits": {"memory": "1.5GB"}}}]}}""");

        var result = await KactlRunner.RunAsync(["pod", "run", "-f", file], environment: Environment);

        result.ExitCode.Should().Be(Usage, KactlRunner.Describe(result));
        result.StandardError.Should().Contain("spec.containers[0].resources.limits.memory").And.Contain("'1.5GB'");
    }

    [Theory]
    [InlineData("pod", "run", "-f", "x.yaml", "--pull", "sometimes")]
    [InlineData("pod", "run", "-f", "x.yaml", "--rootfs-mode", "nfs")]
    [InlineData("pod", "run", "-f", "x.yaml", "--id", "-bad")]
    [InlineData("pod", "resize", "p", "--cpus", "0", "--memory", "1G")]
    [InlineData("pod", "resize", "p", "--cpus", "2", "--memory", "lots")]
    [InlineData("pod", "resize", "p", "--cpus", "2")]
    [InlineData("pod", "exec", "p", "c")]
    [InlineData("pod", "logs")]
    [InlineData("pod", "rm")]
    [InlineData("pod", "frobnicate")]
    public async Task Bad_arguments_exit_2(params string[] arguments)
    {
        var result = await KactlRunner.RunAsync(arguments, environment: Environment);

        result.ExitCode.Should().Be(Usage, KactlRunner.Describe(result));
        result.StandardError.Should().StartWith("kactl: ");
    }

    [Fact]
    public async Task Pod_ps_of_an_empty_run_directory_prints_the_header()
    {
        var result = await KactlRunner.RunAsync(["pod", "ps"], environment: Environment);

        result.ExitCode.Should().Be(0, KactlRunner.Describe(result));
        result.StandardOutput.Should().MatchRegex(@"^POD\s+CONTAINER\s+STATE\s+EXIT\s+AGE\n$");
    }

    [Theory]
    [InlineData("logs", "nope")]
    [InlineData("exec", "nope", "c", "--", "true")]
    [InlineData("resize", "nope", "--cpus", "2", "--memory", "1G")]
    [InlineData("rm", "nope")]
    public async Task A_pod_that_is_not_there_exits_2(params string[] arguments)
    {
        var result = await KactlRunner.RunAsync(["pod", .. arguments], environment: Environment);

        result.ExitCode.Should().Be(Usage, KactlRunner.Describe(result));
        result.StandardError.Should().Contain("no sandbox 'nope'");
    }

    [Fact]
    public async Task A_sandbox_kactl_run_made_is_no_pod()
    {
        WriteRecord("plain", pod: null);

        var result = await KactlRunner.RunAsync(["pod", "logs", "plain"], environment: Environment);

        result.ExitCode.Should().Be(Usage, KactlRunner.Describe(result));
        result.StandardError.Should().Contain("sandbox 'plain' is no pod");
    }

    [Fact]
    public async Task A_pod_whose_vm_is_gone_is_listed_stopped_and_cannot_be_reached()
    {
        WriteRecord("web", pod: "web");

        var ps = await KactlRunner.RunAsync(["pod", "ps"], environment: Environment);
        ps.ExitCode.Should().Be(0, KactlRunner.Describe(ps));
        ps.StandardOutput.Should().MatchRegex(@"(?m)^web\s+-\s+stopped\s+-\s+\d+[smhd]$");

        var exec = await KactlRunner.RunAsync(["pod", "exec", "web", "app", "--", "true"], environment: Environment);
        exec.ExitCode.Should().Be(VmFailed, KactlRunner.Describe(exec));
        exec.StandardError.Should().Contain("pod 'web' is stopped");
    }

    private void WriteRecord(string id, string? pod)
    {
        string directory = _runDirectory.CreateDirectory(id);
        string podField = pod is null ? "" : $", \"pod\": \"{pod}\"";
        // A pid that is surely no qemu of this sandbox: the VM counts as gone.
        File.WriteAllText(Path.Combine(directory, "sandbox.json"),
            $$"""{"id": "{{id}}", "containerId": "app", "createdAt": "2026-01-01T00:00:00Z", "qemuPid": 999999999, "args": ["sleep", "1"]{{podField}}}""");
    }
}
