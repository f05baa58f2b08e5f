using CliWrap.Buffered;
using FluentAssertions;
using KataAgent.Testing.Containerd;
using KataAgent.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace KataAgent.Tests.Kactl;

/// <summary>
/// out/kactl pod run -f booting a real VM (qemu, TCG without /dev/kvm) from out/vmlinuz and out/initrd.img, with
/// busybox loaded into a store of the test's own (<see cref="BusyboxOciImage"/>, no registry); state in a scratch
/// KACTL_RUN_DIR. As root.
/// </summary>
public sealed class KactlPodVmTests(ITestOutputHelper output) : IDisposable
{
    // A boot under TCG on a loaded 2-core machine takes seconds to tens of seconds: a safety limit, not a measure.
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(5);

    private readonly TempDirectory _scratch = new();

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public async Task Pod_run_runs_a_two_container_manifest_sized_from_its_requests_with_prefixed_output_and_the_failing_status()
    {
        foreach (string built in new[] { "vmlinuz", "initrd.img" })
        {
            File.Exists(Path.Combine(RepoPaths.Root, "out", built)).Should().BeTrue($"out/{built} is built by ./build.sh");
        }
        var archives = await BusyboxOciImage.BuildAsync();
        // A layout of the one workload image (the shared layout holds several tags).
        string layout = _scratch.File("busybox");
        await HostTools.RunAsync(HostTools.Require("skopeo", "skopeo"), ["--insecure-policy", "copy", "--quiet", $"oci:{archives.Layout}:v1", $"oci:{layout}:v1"]);
        string store = _scratch.File("store");
        var load = await Kactl(["load", layout, "--name", BusyboxOciImage.Reference, "--store", store]);
        load.ExitCode.Should().Be(0, KactlRunner.Describe(load));
        string manifest = _scratch.File("pod.yaml");
        // Two containers sharing an emptyDir; requests 2 × 250m and 2 × 64 Mi, limits 2 × 1 CPU and 2 × 128 Mi:
        // 1 + ⌈0.5⌉ = 2 vCPUs and 256 + 128 MiB at boot, room to 1 + 2 = 3 vCPUs (or the host's CPUs, if fewer) and
        // 256 + 256 MiB.
        await File.WriteAllTextAsync(manifest, $$"""
            apiVersion: v1
            kind: Pod
            metadata:
              name: duo
            spec:
              restartPolicy: Never
              containers:
                - name: writer
                  image: {{BusyboxOciImage.Reference}}
                  command: ["sh", "-c", "echo shared > /data/note; echo from-writer; nproc"]
                  resources: &res
                    requests: {cpu: 250m, memory: 64Mi}
                    limits: {cpu: "1", memory: 128Mi}
                  volumeMounts: [{name: data, mountPath: /data}]
                - name: reader
                  image: {{BusyboxOciImage.Reference}}
                  command: ["sh", "-c", "for i in $(seq 100); do [ -f /data/note ] && break; sleep 0.2; done; cat /data/note; echo to-stderr >&2; exit 3"]
                  resources: *res
                  volumeMounts: [{name: data, mountPath: /data}]
              volumes:
                - name: data
                  emptyDir: {medium: Memory}
            """);

        var run = await Kactl(["pod", "run", "-f", manifest, "--store", store, "--pull", "never"]);

        output.WriteLine(KactlRunner.Describe(run));
        run.ExitCode.Should().Be(3, "the reader, the first container that failed, exited 3\n" + KactlRunner.Describe(run));
        var stdout = run.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        stdout.Should().Contain("[writer] from-writer").And.Contain("[writer] 2", "the guest has the 2 vCPUs the requests give")
            .And.Contain("[reader] shared", "the reader sees what the writer put in the emptyDir");
        run.StandardError.Should().Contain("[reader] to-stderr")
            .And.Contain($"kactl: pod duo: 2 vCPU and 384 MiB at boot, up to {Math.Min(3, Environment.ProcessorCount)} vCPU and 512 MiB")
            .And.Contain("kactl: container reader exited with 3");
        Directory.EnumerateDirectories(_scratch.File("run")).Should().BeEmpty("an attached pod run leaves no state behind");
    }

    private Task<BufferedCommandResult> Kactl(IReadOnlyList<string> arguments) =>
        KactlRunner.RunAsync(arguments, environment: new Dictionary<string, string?> { ["KACTL_RUN_DIR"] = _scratch.File("run") }, limit: Limit);
}
