using FluentAssertions;
using KataAgent.Host;
using KataAgent.Host.Pods;
using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Extensions;
using KataAgent.Rootfs.Busybox;
using KataAgent.VmTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace KataAgent.VmTests.Pods;

/// <summary>
/// A pod's life on qemu (TCG) beyond its steady state: a pod with no limits gets hot-plug room up to the host's CPUs,
/// and a start gate that fails keeps its containers from starting whoever asks, until a later start's gate passes;
/// a pod whose second container fails in the guest is not created at all, and nothing of it is left on the host.
/// </summary>
[Collection(DebianKernelCollection.Name)]
public sealed class PodLifecycleInVmTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task A_pod_without_limits_may_grow_to_the_host_cpus_and_its_start_gate_decides_when_it_starts()
    {
        HostTools.RequireQemu();
        string rootfs = _temp.File("rootfs");
        await BusyboxRootfs.CreateAsync(rootfs, RepoPaths.Busybox);
        var spec = new PodSpec
        {
            Name = "gated",
            Containers = [PodGuestView.Sleeper("app", rootfs)],
            // Runs in the app's rootfs: passes once the file is there, which the host puts in the directory it shares.
            StartGate = new PodStartGate { Args = ["/bin/sh", "-c", "echo checking; test -e /gate-ok"], Container = "app", Timeout = TimeSpan.FromSeconds(60) },
        };
        await using var pod = await Pod.CreateAsync(spec, new PodOptions { Vm = VmOptions.Image(_temp.File("pod")) });
        try
        {
            var size = await pod.Sandbox.EnsureResourcesAsync(0, 0);
            output.WriteLine($"VM: {size}");
            size.Cpus.Should().Be(1, "no requests: the overhead alone");
            size.MaxCpus.Should().Be(Environment.ProcessorCount, "no limits: room up to the host's CPUs, as runc would give it");

            var failed = async () => await pod.StartAsync();
            var gate = (await failed.Should().ThrowAsync<PodStartGateException>()).Which.Gate;
            gate.State.Should().Be(GateStatus.Types.State.Failed);
            gate.ExitCode.Should().Be(1);
            gate.Output.ToStringUtf8().Should().Contain("checking");
            var kata = async () => await pod.Sandbox.Agent.StartContainerAsync(new StartContainerRequest { ContainerId = pod["app"].Id });
            (await kata.Should().ThrowAsync<AgentStatusException>()).Which.StatusCode.Should().Be(AgentStatusCode.FailedPrecondition, "Kata's own StartContainer is held by the gate too");
            (await pod.GetStatusAsync()).Containers.Single().State.Should().Be(PodContainerStatus.Types.State.Created);

            await File.WriteAllTextAsync(Path.Combine(rootfs, "gate-ok"), "");
            var passed = await StartWhenTheGuestSeesTheFileAsync(pod);

            passed.State.Should().Be(GateStatus.Types.State.Passed);
            (await pod.GetStatusAsync()).Containers.Single().State.Should().Be(PodContainerStatus.Types.State.Running);
            (await PodGuestView.ExecAsync(pod["app"], "echo up")).Should().Be("up\n");
        }
        finally
        {
            await pod.DeleteAsync(TimeSpan.FromSeconds(5));
        }
    }

    [Fact]
    public async Task A_bad_container_fails_CreateAsync_and_leaves_no_vm_files_mounts_or_processes()
    {
        HostTools.RequireQemu();
        string good = _temp.File("good");
        string bad = _temp.File("bad");
        await BusyboxRootfs.CreateAsync(good, RepoPaths.Busybox);
        await BusyboxRootfs.CreateAsync(bad, RepoPaths.Busybox);
        string state = _temp.File("pod");
        var spec = new PodSpec
        {
            Name = "broken",
            Containers =
            [
                PodGuestView.Sleeper("good", good, mounts: [new() { Name = "scratch", MountPath = "/scratch" }]),
                // Well-formed for the host, failing in the guest after the first container was created: a subPath
                // whose name is longer than any the guest's filesystem takes (ENAMETOOLONG when it is made).
                PodGuestView.Sleeper("bad", bad, mounts: [new() { Name = "scratch", MountPath = "/scratch", SubPath = new string('x', 300) }]),
            ],
            Volumes = [new() { Name = "scratch", EmptyDir = new() { InMemory = true } }],
        };

        var create = async () => await Pod.CreateAsync(spec, new PodOptions { Vm = VmOptions.Image(state) });

        var error = (await create.Should().ThrowAsync<AgentStatusException>()).Which;
        output.WriteLine(error.Message);
        Directory.Exists(state).Should().BeFalse("the state directory, with the shared rootfs binds, is gone");
        PodGuestView.ProcessesMentioning(state).Should().BeEmpty("no qemu, virtiofsd or vsock backend of the pod is left");
        PodGuestView.MountsBelow(_temp.Path).Should().BeEmpty();
        File.Exists(Path.Combine(good, "bin", "busybox")).Should().BeTrue("the user's rootfs directories are left as they were");
        // The contract: the status names the failing container and field.
        error.StatusCode.Should().Be(AgentStatusCode.InvalidArgument);
        error.Message.Should().Contain("containers[1]").And.Contain("sub_path");
    }

    /// <summary>
    /// StartPod until the gate passes: the file was written on the host, and the guest's virtio-fs cache may still
    /// hold the lookup that found nothing (cache=auto keeps a negative entry for a second).
    /// </summary>
    private static async Task<GateStatus> StartWhenTheGuestSeesTheFileAsync(Pod pod)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            try
            {
                return await pod.StartAsync();
            }
            catch (PodStartGateException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(1000);
            }
        }
    }
}
