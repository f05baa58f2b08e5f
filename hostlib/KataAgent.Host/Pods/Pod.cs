using System.Text.Json;
using KataAgent.Host.Containers;
using KataAgent.Host.Images;
using KataAgent.Host.Sandboxes;
using KataAgent.Host.Sizing;
using KataAgent.Host.Vm;
using KataAgent.Protocols.Extensions;

namespace KataAgent.Host.Pods;

/// <summary>
/// A whole pod in its own VM, set up in one call: the VM sized from the pod's requests, its images and volumes, and
/// every container created by the agent's kataagent.v1 Pods/CreatePod as one transaction (all or none). Started
/// by <see cref="StartAsync"/> once the guest's start gate allows it; resized in place by <see cref="ResizeAsync"/>.
/// </summary>
/// <remarks>
/// The pod is a <see cref="Sandboxes.Sandbox"/> underneath (its boot, share, network and teardown), whose
/// CreateSandbox goes inside CreatePod. <see cref="DeleteAsync"/> is the orderly end; <see cref="DisposeAsync"/> lets go
/// as <see cref="Sandboxes.Sandbox.DisposeAsync"/> does (a VM this object started is stopped and its state deleted; a
/// detached one stays for <see cref="AttachAsync"/>).
/// </remarks>
public sealed partial class Pod : IAsyncDisposable
{
    /// <summary>The pod's file in the state directory, next to the sandbox's.</summary>
    public const string StateFileName = "pod.json";

    /// <summary>The scratch disk of the pod's disk-backed emptyDirs, a sparse file in the state directory.</summary>
    public const string ScratchDiskFileName = "pod-scratch.img";

    /// <summary>The scratch disk's size when an emptyDir on it has no sizeLimit: sparse, so it costs what is written.</summary>
    public const long DefaultScratchBytes = 10L * 1024 * 1024 * 1024;

    private readonly List<(string Name, Container Container)> _containers;

    private Pod(PodSpec spec, Sandbox sandbox, List<(string Name, Container Container)> containers)
    {
        Spec = spec;
        Sandbox = sandbox;
        _containers = containers;
    }

    /// <summary>The sandbox id.</summary>
    public string Id => Sandbox.Id;

    /// <summary>What the pod was created from (after an attach: as it was saved, without encryption keys).</summary>
    public PodSpec Spec { get; }

    /// <summary>The VM and agent connection underneath.</summary>
    public Sandbox Sandbox { get; }

    /// <summary>The pod's containers, by name, in the spec's order.</summary>
    public IReadOnlyList<(string Name, Container Container)> Containers => _containers;

    /// <summary>The container named <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">The pod has no container of that name.</exception>
    public Container this[string name] =>
        _containers.FirstOrDefault(c => c.Name == name).Container ?? throw new KeyNotFoundException($"pod {Id} has no container '{name}'");

    /// <summary>
    /// Boots the VM for <paramref name="spec"/>, prepares its images and volumes and creates its containers (not
    /// started): the VM sized by <see cref="PodSizing.Compute"/> (boot size from requests, hot-plug room up to the
    /// limits or the host), its NICs' queues and the share's request queues following the vCPUs; each container's
    /// rootfs (an image unpacked through <see cref="PodOptions.Images"/>, or a directory) shared or packed as the
    /// <see cref="PodOptions.RootfsMode"/> says, and its OCI spec built from the container's description; block
    /// volumes and a scratch disk for disk-backed emptyDirs handed to the VM as raw boot disks (the host never
    /// mounts them), hostPath volumes through the sandbox's share; then one CreatePod. If anything fails, everything is
    /// undone: the VM is gone, and so are the state directory and every file made for the pod.
    /// </summary>
    /// <exception cref="PodManifestException">The spec is not runnable: the message names the field.</exception>
    /// <exception cref="QemuBootException">The VM or its agent did not come up.</exception>
    /// <exception cref="AgentStatusException">The agent refused CreatePod (the message names the container and field).</exception>
    /// <exception cref="KataAgentException">Sharing, packing, the network or an image failed.</exception>
    public static async Task<Pod> CreateAsync(PodSpec spec, PodOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(options);
        Validate(spec, options);
        string id = options.Id ?? spec.Name;
        var host = HostCapacity.Current();
        var size = PodSizing.Compute(spec, options.Sizing, host.Cpus, host.MemoryMiB);
        string stateDirectory = Path.GetFullPath(options.Vm.StateDirectory);
        bool madeStateDirectory = !Directory.Exists(stateDirectory);
        var disks = new List<QemuDisk>(options.Vm.Disks);
        var blockDiskIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var volume in spec.Volumes)
        {
            if (volume.Block is { } block)
            {
                blockDiskIndex[volume.Name] = disks.Count;
                disks.Add(new QemuDisk(Path.GetFullPath(block.Path), block.ReadOnly));
            }
        }
        int scratchIndex = -1;
        string scratchPath = Path.Combine(stateDirectory, ScratchDiskFileName);
        var diskEmptyDirs = spec.Volumes.Where(v => v.EmptyDir is { InMemory: false }).ToList();
        Sandbox sandbox;
        try
        {
            if (diskEmptyDirs.Count > 0)
            {
                Directory.CreateDirectory(stateDirectory);
                long bytes = diskEmptyDirs.Any(v => v.EmptyDir!.SizeLimitBytes is null)
                    ? DefaultScratchBytes
                    : diskEmptyDirs.Sum(v => v.EmptyDir!.SizeLimitBytes!.Value);
                // Sparse: the host pays only for the blocks the guest writes. ext4 wants room for its metadata.
                await using (var scratch = new FileStream(scratchPath, FileMode.CreateNew, FileAccess.Write))
                {
                    scratch.SetLength(Math.Max(bytes + bytes / 16, 64L * 1024 * 1024));
                }
                scratchIndex = disks.Count;
                disks.Add(new QemuDisk(scratchPath));
            }
            var vm = options.Vm with
            {
                Cpus = size.Cpus,
                MemoryMiB = size.MemoryMiB,
                MaxCpus = size.MaxCpus,
                MaxMemoryMiB = size.MaxMemoryMiB,
                Disks = disks,
            };
            sandbox = await Sandbox.StartAsync(new SandboxOptions
            {
                Vm = vm,
                Id = id,
                Hostname = spec.GuestHostname,
                NetworkModel = options.NetworkModel,
                Dns = DnsLines(spec.DnsConfig),
                RootfsMode = options.RootfsMode,
                NetworkQueues = size.Cpus,
                ShareRequestQueues = Math.Clamp(size.Cpus, 1, options.MaxShareRequestQueues),
                DeferCreateSandbox = true,
            }, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // The sandbox undid its own start; what was made for it before is undone here.
            DeleteQuietly(scratchPath);
            if (madeStateDirectory && Directory.Exists(stateDirectory))
            {
                SharedFs.StateDirectory.Delete(stateDirectory);
            }
            throw;
        }
        var prepared = new List<string>();
        try
        {
            var request = new CreatePodRequest { Sandbox = sandbox.PendingCreateSandbox! };
            foreach (var volume in spec.Volumes)
            {
                if (ToAgentVolume(volume, sandbox, blockDiskIndex, scratchIndex) is { } agentVolume)
                {
                    request.Volumes.Add(agentVolume);
                }
            }
            for (int i = 0; i < spec.Containers.Count; i++)
            {
                var container = spec.Containers[i];
                string field = $"spec.containers[{i}]";
                string containerId = ContainerIdOf(container);
                var (directory, oci) = await RootfsAndSpecAsync(sandbox, spec, container, field, options, cancellationToken).ConfigureAwait(false);
                prepared.Add(containerId);
                var create = await sandbox.PrepareContainerAsync(containerId, directory, oci, sandboxPidNamespace: false, cancellationToken).ConfigureAwait(false);
                sandbox.DropUnpackedCopyIfPacked(containerId);
                var podContainer = new PodContainer { Container = create, Name = container.Name };
                foreach (var mount in container.VolumeMounts)
                {
                    if (spec.Volumes.First(v => v.Name == mount.Name).HostPath is null)
                    {
                        podContainer.VolumeMounts.Add(new VolumeMount { Volume = mount.Name, ContainerPath = mount.MountPath, ReadOnly = mount.ReadOnly, SubPath = mount.SubPath });
                    }
                }
                request.Containers.Add(podContainer);
            }
            if (spec.StartGate is { } gate)
            {
                request.StartGate = new StartGate { Container = gate.Container ?? "", TimeoutSeconds = (uint)Math.Ceiling(gate.Timeout.TotalSeconds) };
                request.StartGate.Args.Add(gate.Args);
                request.StartGate.Env.Add(gate.Env);
            }
            foreach (var (key, value) in spec.Annotations)
            {
                request.Annotations[key] = value;
            }
            await sandbox.Agent.CreatePodAsync(request, cancellationToken).ConfigureAwait(false);
            var containers = new List<(string Name, Container Container)>();
            foreach (var container in spec.Containers)
            {
                var handle = await sandbox.AdoptCreatedAsync(ContainerIdOf(container), ContainerOptionsFor(container), cancellationToken).ConfigureAwait(false);
                containers.Add((container.Name, handle));
            }
            var pod = new Pod(spec, sandbox, containers);
            await pod.SaveStateAsync(cancellationToken).ConfigureAwait(false);
            return pod;
        }
        catch (Exception e)
        {
            // CreatePod undid whatever it did in the guest; the host side goes with the sandbox: its VM, share, network
            // and state directory (the unpacked images and the scratch disk are in it).
            foreach (string containerId in prepared)
            {
                await sandbox.ReleasePreparedRootfsAsync(containerId).ConfigureAwait(false);
            }
            try
            {
                await sandbox.DestroyAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch (KataAgentException undo)
            {
                e.Data["undo"] = undo.Message;
            }
            throw;
        }
    }

    /// <summary>Reconnects to a pod another process created (a detached VM), from its state directory.</summary>
    /// <exception cref="VmException">No pod there, or its VM is no longer running.</exception>
    public static async Task<Pod> AttachAsync(string stateDirectory, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(stateDirectory);
        string file = Path.Combine(stateDirectory, StateFileName);
        PodStateFile state;
        try
        {
            await using var stream = File.OpenRead(file);
            state = await JsonSerializer.DeserializeAsync(stream, PodStateFileJsonContext.Default.PodStateFile, cancellationToken).ConfigureAwait(false)
                ?? throw new VmException($"{file} is empty");
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new VmException($"no pod in {stateDirectory}: {file} does not exist", e);
        }
        catch (JsonException e)
        {
            throw new VmException($"{file} is not a pod state file: {e.Message}", e);
        }
        var sandbox = await Sandbox.AttachAsync(stateDirectory, cancellationToken).ConfigureAwait(false);
        try
        {
            var containers = new List<(string Name, Container Container)>();
            for (int i = 0; i < state.Spec.Containers.Count && i < state.ContainerIds.Count; i++)
            {
                var container = await sandbox.OpenContainerAsync(state.ContainerIds[i], ContainerOptionsFor(state.Spec.Containers[i]) with { AttachStdio = false }, cancellationToken).ConfigureAwait(false);
                containers.Add((state.Spec.Containers[i].Name, container));
            }
            return new Pod(state.Spec, sandbox, containers);
        }
        catch
        {
            await sandbox.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>A container's id in the agent: its name, which is unique in the pod and a safe id (a DNS label).</summary>
    internal static string ContainerIdOf(PodContainerSpec container) => container.Name;

    private static ContainerOptions ContainerOptionsFor(PodContainerSpec container) => new();

    /// <summary>The rootfs directory and OCI spec of one container: the image unpacked with the container's overrides, or its rootfs directory.</summary>
    private static async Task<(string Directory, KataAgent.Protocols.Agent.Spec Spec)> RootfsAndSpecAsync(Sandbox sandbox, PodSpec pod, PodContainerSpec container, string field, PodOptions options, CancellationToken cancellationToken)
    {
        string containerId = ContainerIdOf(container);
        if (container.Image is { } image)
        {
            var images = options.Images!;
            await images.EnsureAsync(image, options.PullPolicy, cancellationToken: cancellationToken).ConfigureAwait(false);
            var imageOptions = new ImageContainerOptions
            {
                Overrides = PodContainerSpecs.Overrides(container),
                Terminal = container.Tty,
                EditSpec = s => PodContainerSpecs.Apply(s, pod, container, field),
            };
            return await sandbox.UnpackImageAsync(containerId, images, image, imageOptions, cancellationToken).ConfigureAwait(false);
        }
        var spec = PodContainerSpecs.ForRootfs(container, field);
        PodContainerSpecs.Apply(spec, pod, container, field);
        return (container.Rootfs!, spec);
    }

    /// <summary>A pod volume the guest sets up itself (emptyDir, block); null for hostPath, which goes through the share.</summary>
    private static PodVolume? ToAgentVolume(PodVolumeSpec volume, Sandbox sandbox, Dictionary<string, int> blockDiskIndex, int scratchIndex)
    {
        if (volume.EmptyDir is { } emptyDir)
        {
            return new PodVolume
            {
                Name = volume.Name,
                EmptyDir = new EmptyDirVolume
                {
                    Medium = emptyDir.InMemory ? EmptyDirVolume.Types.Medium.Memory : EmptyDirVolume.Types.Medium.Default,
                    SizeLimitBytes = (ulong)(emptyDir.SizeLimitBytes ?? 0),
                    ScratchPciPath = emptyDir.InMemory ? "" : sandbox.Vm.DiskPciPaths[scratchIndex],
                },
            };
        }
        if (volume.Block is { } block)
        {
            var agentBlock = new BlockVolume { PciPath = sandbox.Vm.DiskPciPaths[blockDiskIndex[volume.Name]], FsType = block.FsType, ReadOnly = block.ReadOnly };
            if (block.Encryption is { } encryption)
            {
                agentBlock.Encryption = encryption.Ephemeral
                    ? new VolumeEncryption { Ephemeral = new EphemeralKey() }
                    : new VolumeEncryption { Provided = Google.Protobuf.ByteString.CopyFrom(encryption.Key!.Value.Span) };
            }
            return new PodVolume { Name = volume.Name, Block = agentBlock };
        }
        return null;
    }

    /// <summary>spec.dnsConfig as resolv.conf lines, CreateSandbox's dns.</summary>
    private static List<string> DnsLines(PodDnsConfig? dns)
    {
        var lines = new List<string>();
        if (dns is null)
        {
            return lines;
        }
        lines.AddRange(dns.Nameservers.Select(n => "nameserver " + n));
        if (dns.Searches.Count > 0)
        {
            lines.Add("search " + string.Join(' ', dns.Searches));
        }
        if (dns.Options.Count > 0)
        {
            lines.Add("options " + string.Join(' ', dns.Options));
        }
        return lines;
    }

    private async Task SaveStateAsync(CancellationToken cancellationToken)
    {
        // Keys go to the guest alone: never to a host file.
        var spec = Spec with
        {
            Volumes = [.. Spec.Volumes.Select(v => v.Block?.Encryption is { Key: not null } e
                ? v with { Block = v.Block with { Encryption = e with { Key = null } } }
                : v)],
        };
        var state = new PodStateFile { Spec = spec, ContainerIds = [.. _containers.Select(c => c.Container.Id)] };
        string file = Path.Combine(Sandbox.Vm.StateDirectory, StateFileName);
        await using var stream = File.Create(file);
        await JsonSerializer.SerializeAsync(stream, state, PodStateFileJsonContext.Default.PodStateFile, cancellationToken).ConfigureAwait(false);
    }

    private static void DeleteQuietly(string file)
    {
        try
        {
            File.Delete(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The caller's error is the one that matters.
        }
    }
}
