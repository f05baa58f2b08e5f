using System.Text;
using System.Text.Json;
using KataAgent.Host.Containers;
using KataAgent.Host.Images;
using KataAgent.Host.Vm;
using KataAgent.Protocols;
using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Extensions;

namespace KataAgent.Host.Sandboxes;

public sealed partial class Sandbox
{
    /// <summary>Kata's storage driver for a guest-pulled rootfs.</summary>
    public const string ImageGuestPullDriver = "image_guest_pull";

    /// <summary>
    /// Creates container <paramref name="containerId"/> from <paramref name="image"/> pulled inside the VM (guest pull;
    /// the guest image must be built with <c>kata-rootfs build --guest-pull</c>): PullImage makes the agent pull and
    /// unpack it onto guest storage (<see cref="GuestPullOptions.Storage"/>) and answers with the image's process, which
    /// goes into the spec with the caller's overrides; CreateContainer then names the pulled rootfs with Kata's storage
    /// (driver <c>image_guest_pull</c>, source the image, driver option <c>image_guest_pull={"metadata":{annotations}}</c>,
    /// mount point <c>/run/kata-containers/&lt;id&gt;/rootfs</c>), which the agent releases with the container. The
    /// host holds neither layers nor rootfs (with <see cref="GuestPullStorage.ScratchDisk"/> they are in the disk's file).
    /// Credentials travel to the guest only. The guest reaches the registry over the sandbox's network: a registry
    /// named by host name needs <see cref="SandboxOptions.Dns"/>. The container is created, not started.
    /// </summary>
    /// <exception cref="ArgumentException">The container id is not a safe name, or is used already.</exception>
    /// <exception cref="AgentStatusException">The agent refused or the pull failed: INVALID_ARGUMENT naming the field,
    /// UNAUTHENTICATED (the registry refused the credentials), NOT_FOUND (no such image), UNAVAILABLE (the registry is
    /// unreachable), FAILED_PRECONDITION (the guest image has no guest pull).</exception>
    /// <exception cref="DiskImageException">The scratch disk could not be made.</exception>
    /// <exception cref="VmException">No free hot-plug slot for the scratch disk.</exception>
    public async Task<Container> CreateContainerFromGuestPullAsync(string containerId, string image, GuestPullOptions? pullOptions = null, ContainerOptions? options = null, CancellationToken cancellationToken = default)
    {
        ContainerIds.Validate(containerId, nameof(containerId));
        ArgumentException.ThrowIfNullOrEmpty(image);
        ObjectDisposedException.ThrowIf(_finished, this);
        ThrowIfFailed();
        pullOptions ??= new GuestPullOptions();
        var request = PullRequest(containerId, image, pullOptions);
        bool scratch = pullOptions.Storage == GuestPullStorage.ScratchDisk;
        if (scratch)
        {
            string disk = DiskImagePath(containerId);
            if (File.Exists(disk))
            {
                throw new ArgumentException($"containerId '{containerId}' is already used in sandbox {Id}", nameof(containerId));
            }
            await Ext4Image.CreateEmptyAsync(disk, pullOptions.ScratchDiskBytes, cancellationToken).ConfigureAwait(false);
            try
            {
                string pciPath = await _vm.AddDiskAsync(new QemuDisk(disk), cancellationToken).ConfigureAwait(false);
                request.Storage = new ImageStorage { Block = new BlockStorage { PciPath = pciPath } };
            }
            catch
            {
                File.Delete(disk);
                throw;
            }
        }
        Container container;
        try
        {
            var pulled = await UnlessFailedAsync(_agent.PullImageAsync(request, cancellationToken)).ConfigureAwait(false);
            var process = new KataAgent.Image.Config.ImageProcess(pulled.Process.Args, pulled.Process.Env, pulled.Process.Cwd, pulled.Process.Uid, pulled.Process.Gid, pulled.Process.AdditionalGids);
            var spec = ContainerSpecs.ApplyImageProcess(ContainerSpecs.Default(process.Args, pullOptions.Terminal), process);
            if (pullOptions.Overrides.WorkingDirectory is { } cwd)
            {
                spec.Process.Cwd = cwd;
            }
            spec.Root = new Root { Path = pulled.Rootfs };
            pullOptions.EditSpec?.Invoke(spec);
            AddDnsMount(spec);
            var create = new CreateContainerRequest { ContainerId = containerId, ExecId = containerId, OCI = spec };
            create.Storages.Add(GuestPullStorageOf(image, pulled.Rootfs, spec));
            container = await UnlessFailedAsync(_agent.CreateContainerAsync(create, options, cancellationToken)).ConfigureAwait(false);
        }
        catch
        {
            // A pulled rootfs no container took stays in the guest until the sandbox goes (the agent frees it at
            // DestroySandbox); the scratch disk is unplugged now.
            if (scratch)
            {
                await ReleaseDiskQuietlyAsync(containerId).ConfigureAwait(false);
            }
            throw;
        }
        return await AdoptAsync(container, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The PullImage request of a guest pull (the scratch disk's PCI path is added once it is plugged).</summary>
    internal static PullImageRequest PullRequest(string containerId, string image, GuestPullOptions pullOptions)
    {
        var request = new PullImageRequest
        {
            ContainerId = containerId,
            Image = image,
            Platform = pullOptions.Platform ?? "",
            CaPem = pullOptions.CaPem ?? "",
            Storage = new ImageStorage { Memory = new MemoryStorage { SizeMib = pullOptions.MemoryLimitMiB } },
            User = pullOptions.Overrides.User ?? "",
        };
        request.PlainHttpRegistries.AddRange(pullOptions.PlainHttpRegistries);
        if (pullOptions.Credentials is { } credentials)
        {
            request.Credentials = new Protocols.Extensions.RegistryCredentials
            {
                Username = credentials.Username,
                Password = credentials.Password,
                IdentityToken = credentials.IdentityToken ?? "",
            };
        }
        if (pullOptions.Overrides.Entrypoint is { } entrypoint)
        {
            request.SetEntrypoint = true;
            request.Entrypoint.AddRange(entrypoint);
        }
        if (pullOptions.Overrides.Args is { } args)
        {
            request.SetArgs = true;
            request.Args.AddRange(args);
        }
        request.Env.AddRange(pullOptions.Overrides.Env ?? []);
        return request;
    }

    /// <summary>Kata's image_guest_pull storage: the metadata of its driver option is the container's annotations, as Kata's runtime sends them.</summary>
    internal static Storage GuestPullStorageOf(string image, string rootfs, Spec spec)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteStartObject("metadata");
            foreach (var (key, value) in spec.Annotations.OrderBy(a => a.Key, StringComparer.Ordinal))
            {
                json.WriteString(key, value);
            }
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return new Storage
        {
            Driver = ImageGuestPullDriver,
            Source = image,
            Fstype = "overlay",
            MountPoint = rootfs,
            DriverOptions = { $"{ImageGuestPullDriver}={Encoding.UTF8.GetString(buffer.ToArray())}" },
        };
    }
}
