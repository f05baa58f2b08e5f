using Grpc.Core;
using KataAgent.Agent.Server;
using KataAgent.Agent.Containers.Spec;
using KataAgent.Linux.Interop;
using KataAgent.Protocols.Agent;

namespace KataAgent.Agent.Sandbox;

/// <summary>
/// Storage handlers: <c>ephemeral</c> (a tmpfs, e.g. the pod's /dev/shm or a memory emptyDir)
/// and <c>local</c> (a guest directory for a disk emptyDir). Mount points must lie under the
/// directory Kata's runtime uses, so a request cannot mount over arbitrary guest paths.
/// </summary>
public static class SandboxStorage
{
    public const string AllowedRoot = "/run/kata-containers/";

    public static IReadOnlyList<string> Drivers { get; } = ["ephemeral", "local"];

    /// <summary>Checks every storage before any is mounted.</summary>
    public static void Validate(IReadOnlyList<Storage> storages, string field)
    {
        for (int i = 0; i < storages.Count; i++)
        {
            var storage = storages[i];
            string at = $"{field}[{i}]";
            if (!Drivers.Contains(storage.Driver))
            {
                throw RpcErrors.InvalidArgument($"{at}.driver", $"'{storage.Driver}' is not supported; this agent handles {string.Join(", ", Drivers)}");
            }
            string point = storage.MountPoint;
            if (!point.StartsWith('/') || Path.GetFullPath(point) != point.TrimEnd('/') || point.Contains('\0'))
            {
                throw RpcErrors.InvalidArgument($"{at}.mount_point", $"'{point}' is not a normalised absolute path");
            }
            if (!point.StartsWith(AllowedRoot, StringComparison.Ordinal))
            {
                throw RpcErrors.InvalidArgument($"{at}.mount_point", $"'{point}' is not under {AllowedRoot}");
            }
            if (storage.Driver == "ephemeral" && storage.Fstype is not ("" or "tmpfs"))
            {
                throw RpcErrors.InvalidArgument($"{at}.fstype", $"'{storage.Fstype}': ephemeral storage is tmpfs");
            }
        }
    }

    /// <summary>Mounts or creates one storage; returns true when something was mounted (to unmount later).</summary>
    public static bool Apply(Storage storage)
    {
        Directory.CreateDirectory(storage.MountPoint);
        if (storage.Driver == "ephemeral")
        {
            var (flags, _, data) = MountOptions.Parse(storage.Options);
            Libc.Check(Libc.Mount(storage.Source.Length > 0 ? storage.Source : "tmpfs", storage.MountPoint, "tmpfs", flags, data), $"mount tmpfs on {storage.MountPoint}");
            return true;
        }
        foreach (string option in storage.Options)
        {
            if (option.StartsWith("mode=", StringComparison.Ordinal))
            {
                File.SetUnixFileMode(storage.MountPoint, (UnixFileMode)Convert.ToInt32(option[5..], 8));
            }
        }
        if (storage.FsGroup is { } group)
        {
            Libc.Check(Libc.Chown(storage.MountPoint, uint.MaxValue, group.GroupId), $"chown {storage.MountPoint}");
        }
        return false;
    }
}
