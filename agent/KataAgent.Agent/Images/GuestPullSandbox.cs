using KataAgent.Agent.Storage;

namespace KataAgent.Agent.Images;

/// <summary>
/// Kata's <c>get_process</c> for guest pull: the sandbox's pause container, whose image is never pulled, runs the
/// guest's own pause instead of the process the host sent. Kata copies a <c>/pause_bundle</c> from its guest image;
/// ours is the pause mode of the agent's spawn-chain helper kata-agent-init. The container's init already runs from
/// the helper's sealed memfd, so it execs its own /proc/self/exe (through the container's /proc): no file of the guest
/// image is needed, and none can be changed through it.
/// </summary>
internal static class GuestPullSandbox
{
    /// <summary>
    /// <paramref name="spec"/> with the pause process when it is the sandbox container of a guest pull (a storage of
    /// driver image_guest_pull and a container-type annotation "sandbox" in the spec, as Kata checks), else itself.
    /// </summary>
    public static Protocols.Agent.Spec Apply(Protocols.Agent.Spec spec, IReadOnlyList<Protocols.Agent.Storage> storages)
    {
        if (!storages.Any(s => s.Driver == StorageDrivers.ImageGuestPull)
            || !GuestPullVolume.ContainerTypeKeys.Any(key => spec.Annotations.TryGetValue(key, out string? value) && value == GuestPullVolume.SandboxType))
        {
            return spec;
        }
        var pause = spec.Clone();
        pause.Process ??= new Protocols.Agent.Process();
        pause.Process.Args.Clear();
        pause.Process.Args.Add("/proc/self/exe");
        pause.Process.Args.Add(Helpers.Sandbox.PauseMode.Argument);
        pause.Process.Cwd = "/";
        return pause;
    }
}
