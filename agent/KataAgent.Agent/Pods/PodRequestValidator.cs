using System.Text.RegularExpressions;
using KataAgent.Agent.Containers;
using KataAgent.Agent.Devices;
using KataAgent.Agent.Errors;
using KataAgent.Agent.Sandbox;
using KataAgent.Protocols;
using KataAgent.Protocols.Extensions;

namespace KataAgent.Agent.Pods;

/// <summary>
/// Every field of a CreatePodRequest checked before anything touches the filesystem: INVALID_ARGUMENT naming the
/// field (<c>containers[1].volume_mounts[0].sub_path</c>). The sandbox's and each container's own fields go through
/// the checks CreateSandbox and CreateContainer make (<see cref="SandboxManager.Validate"/>,
/// <see cref="ContainerManager.Validate"/>), under the request's field names.
/// </summary>
internal static partial class PodRequestValidator
{
    /// <summary>Bounds on what a pod may carry.</summary>
    private const int MaxContainers = 64, MaxVolumes = 64, MaxMounts = 64, MaxAnnotations = 256, MaxAnnotationBytes = 256 * 1024, MaxWord = 128 * 1024, MaxWords = 4096;

    /// <summary>StartGate.timeout_seconds at most: a day.</summary>
    private const uint MaxGateSeconds = 24 * 3600;

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex DnsLabel();

    /// <summary>Checks <paramref name="request"/>; returns the pod's id and its members.</summary>
    public static (string PodId, IReadOnlyList<PodMember> Members) Validate(CreatePodRequest request)
    {
        var sandbox = request.Sandbox ?? throw AgentException.InvalidArgument("sandbox", "is missing");
        if (ContainerIds.Problem(sandbox.SandboxId) is { } idProblem)
        {
            throw AgentException.InvalidArgument("sandbox.sandbox_id", idProblem);
        }
        Nested("sandbox.", () => SandboxManager.Validate(sandbox));

        if (request.Volumes.Count > MaxVolumes)
        {
            throw AgentException.InvalidArgument("volumes", $"has more than {MaxVolumes} entries");
        }
        var volumes = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < request.Volumes.Count; i++)
        {
            CheckVolume(request.Volumes[i], $"volumes[{i}]", volumes);
        }

        if (request.Containers.Count == 0)
        {
            throw AgentException.InvalidArgument("containers", "is empty: a pod has at least one container");
        }
        if (request.Containers.Count > MaxContainers)
        {
            throw AgentException.InvalidArgument("containers", $"has more than {MaxContainers} entries");
        }
        var members = new List<PodMember>();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < request.Containers.Count; i++)
        {
            members.Add(CheckContainer(request.Containers[i], i, volumes, members, ids, sandbox.SandboxId));
        }

        if (request.StartGate is { } gate)
        {
            CheckGate(gate, members);
        }
        if (request.Annotations.Count > MaxAnnotations
            || request.Annotations.Sum(a => (long)a.Key.Length + a.Value.Length) > MaxAnnotationBytes)
        {
            throw AgentException.InvalidArgument("annotations", $"more than {MaxAnnotations} entries or {MaxAnnotationBytes} characters");
        }
        return (sandbox.SandboxId, members);
    }

    private static void CheckVolume(PodVolume volume, string at, HashSet<string> names)
    {
        CheckLabel(volume.Name, $"{at}.name");
        if (!names.Add(volume.Name))
        {
            throw AgentException.InvalidArgument($"{at}.name", $"'{volume.Name}' names two volumes");
        }
        switch (volume.SourceCase)
        {
            case PodVolume.SourceOneofCase.EmptyDir:
                if (volume.EmptyDir.ScratchPciPath.Length > 0 && !PciPath.TryParse(volume.EmptyDir.ScratchPciPath, out _, out string? scratchError))
                {
                    throw AgentException.InvalidArgument($"{at}.empty_dir.scratch_pci_path", scratchError);
                }
                break;
            case PodVolume.SourceOneofCase.Block:
                if (!PciPath.TryParse(volume.Block.PciPath, out _, out string? error))
                {
                    throw AgentException.InvalidArgument($"{at}.block.pci_path", error);
                }
                if (volume.Block.FsType is not ("" or "ext4"))
                {
                    throw AgentException.InvalidArgument($"{at}.block.fs_type", $"'{volume.Block.FsType}' is not a filesystem the guest makes (ext4)");
                }
                if (volume.Block.Encryption is { KeyCase: VolumeEncryption.KeyOneofCase.Provided } encryption && encryption.Provided.Length is not (32 or 64))
                {
                    throw AgentException.InvalidArgument($"{at}.block.encryption.provided", $"is {encryption.Provided.Length} bytes; a key is 32 or 64");
                }
                if (volume.Block.Encryption is { KeyCase: VolumeEncryption.KeyOneofCase.None })
                {
                    throw AgentException.InvalidArgument($"{at}.block.encryption.key", "is missing: ephemeral or provided");
                }
                break;
            default:
                throw AgentException.InvalidArgument($"{at}.source", "is missing: empty_dir or block");
        }
    }

    private static PodMember CheckContainer(PodContainer container, int index, HashSet<string> volumes, List<PodMember> before, HashSet<string> ids, string podId)
    {
        string at = $"containers[{index}]";
        CheckLabel(container.Name, $"{at}.name");
        if (before.Any(m => m.Name == container.Name))
        {
            throw AgentException.InvalidArgument($"{at}.name", $"'{container.Name}' names two containers");
        }
        var create = container.Container ?? throw AgentException.InvalidArgument($"{at}.container", "is missing");
        if (create.Devices.Count > 0)
        {
            throw AgentException.InvalidArgument($"{at}.container.devices", "device handlers are not available in this agent yet");
        }
        Nested($"{at}.container.", () => ContainerManager.Validate(create.ContainerId, create.ExecId, create.OCI, create.Storages));
        if (!ids.Add(create.ContainerId))
        {
            throw AgentException.InvalidArgument($"{at}.container.container_id", $"'{create.ContainerId}' is the id of two containers");
        }
        if (create.ContainerId == podId)
        {
            throw AgentException.InvalidArgument($"{at}.container.container_id", $"'{create.ContainerId}' is the pod's own id (sandbox.sandbox_id)");
        }
        if (container.VolumeMounts.Count > MaxMounts)
        {
            throw AgentException.InvalidArgument($"{at}.volume_mounts", $"has more than {MaxMounts} entries");
        }
        var paths = new HashSet<string>(StringComparer.Ordinal);
        for (int j = 0; j < container.VolumeMounts.Count; j++)
        {
            var mount = container.VolumeMounts[j];
            string field = $"{at}.volume_mounts[{j}]";
            if (!volumes.Contains(mount.Volume))
            {
                throw AgentException.InvalidArgument($"{field}.volume", $"'{mount.Volume}' is not one of the pod's volumes");
            }
            if (VolumeMountPaths.ContainerPathProblem(mount.ContainerPath) is { } pathProblem)
            {
                throw AgentException.InvalidArgument($"{field}.container_path", pathProblem);
            }
            if (!paths.Add(mount.ContainerPath))
            {
                throw AgentException.InvalidArgument($"{field}.container_path", $"'{mount.ContainerPath}' is mounted on twice");
            }
            if (VolumeMountPaths.SubPathProblem(mount.SubPath) is { } subProblem)
            {
                throw AgentException.InvalidArgument($"{field}.sub_path", subProblem);
            }
        }
        return new PodMember(index, container.Name, create.ContainerId);
    }

    private static void CheckGate(StartGate gate, IReadOnlyList<PodMember> members)
    {
        if (gate.Args.Count == 0)
        {
            throw AgentException.InvalidArgument("start_gate.args", "is empty: the gate is a command");
        }
        if (gate.Args.Count > MaxWords || gate.Env.Count > MaxWords)
        {
            throw AgentException.InvalidArgument(gate.Args.Count > MaxWords ? "start_gate.args" : "start_gate.env", $"has more than {MaxWords} entries");
        }
        for (int i = 0; i < gate.Args.Count; i++)
        {
            if (gate.Args[i].Length > MaxWord || gate.Args[i].Contains('\0'))
            {
                throw AgentException.InvalidArgument($"start_gate.args[{i}]", $"is longer than {MaxWord} characters or holds a NUL byte");
            }
        }
        if (!gate.Args[0].StartsWith('/'))
        {
            throw AgentException.InvalidArgument("start_gate.args[0]", $"'{gate.Args[0]}' is not an absolute path (the gate runs with no shell and no PATH search)");
        }
        for (int i = 0; i < gate.Env.Count; i++)
        {
            if (gate.Env[i].Length > MaxWord || gate.Env[i].Contains('\0') || gate.Env[i].IndexOf('=') <= 0)
            {
                throw AgentException.InvalidArgument($"start_gate.env[{i}]", $"'{gate.Env[i]}' is not NAME=value");
            }
        }
        if (gate.Container.Length > 0 && !members.Any(m => m.Name == gate.Container))
        {
            throw AgentException.InvalidArgument("start_gate.container", $"'{gate.Container}' is not the name of one of the pod's containers");
        }
        if (gate.TimeoutSeconds > MaxGateSeconds)
        {
            throw AgentException.InvalidArgument("start_gate.timeout_seconds", $"{gate.TimeoutSeconds} is more than {MaxGateSeconds} (a day)");
        }
    }

    private static void CheckLabel(string name, string field)
    {
        if (name.Length is 0 or > 63 || !DnsLabel().IsMatch(name))
        {
            throw AgentException.InvalidArgument(field, $"'{name}' is not a DNS label (1 to 63 lower-case letters, digits and '-', starting and ending with a letter or digit)");
        }
    }

    /// <summary>Runs a check written for another request, its field names put under <paramref name="prefix"/>.</summary>
    internal static T Nested<T>(string prefix, Func<T> check)
    {
        try
        {
            return check();
        }
        catch (AgentException e)
        {
            throw Prefixed(e, prefix);
        }
    }

    private static void Nested(string prefix, Action check) => Nested(prefix, () => { check(); return 0; });

    /// <summary>Runs a step of another request's kind (CreateSandbox, CreateContainer), its errors' fields put under <paramref name="prefix"/>.</summary>
    internal static async Task NestedAsync(string prefix, Func<Task> step)
    {
        try
        {
            await step().ConfigureAwait(false);
        }
        catch (AgentException e)
        {
            throw Prefixed(e, prefix);
        }
    }

    /// <summary><paramref name="e"/> with its field under <paramref name="prefix"/> (<c>sandbox.</c>, <c>containers[1] (name "web").container.</c>).</summary>
    internal static AgentException Prefixed(AgentException e, string prefix) =>
        new(e.Kind, e.Field is null ? prefix.TrimEnd('.') : prefix + e.Field, e.Problem, e);
}
