using KataAgent.Host.Containers;
using KataAgent.Host.Sandboxes;
using KataAgent.Host.Vm;
using KataAgent.Protocols;
using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Containerd.Events;
using KataAgent.Protocols.Containerd.Task;
using KataAgent.Shim.Config;
using KataAgent.Shim.Sizing;
using KataAgent.Shim.Tasks.Stdio;
using KataAgent.Shim.Daemon;

namespace KataAgent.Shim.Tasks;

internal sealed partial class TaskService
{
    /// <summary>
    /// Create: a sandbox boots the pod's VM (in the pod's netns from its spec, sized from its annotations) and is that
    /// VM; a lone container boots its own VM and runs in it; a pod's container joins its sandbox's VM. A container's
    /// rootfs (the snapshotter's mounts, mounted on <c>&lt;bundle&gt;/rootfs</c>) is shared into the VM, its stdio
    /// attached to containerd's FIFOs before anything runs.
    /// </summary>
    private async Task<CreateTaskResponse> CreateAsync(CreateTaskRequest request, CancellationToken cancellationToken)
    {
        ValidateId(request.Id, "id");
        if (request.Checkpoint.Length > 0 || request.ParentCheckpoint.Length > 0)
        {
            throw TaskException.Unimplemented("restoring a task from a checkpoint is not implemented: a container in a VM cannot be restored alone");
        }
        string bundle = ValidateBundle(request.Bundle);
        var stdin = StdioTarget.Parse(request.Stdin, "stdin");
        var stdout = StdioTarget.Parse(request.Stdout, "stdout");
        var stderr = StdioTarget.Parse(request.Stderr, "stderr");
        await _tableGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            lock (_tasks)
            {
                if (_tasks.ContainsKey(request.Id))
                {
                    throw TaskException.AlreadyExists($"task {request.Id} already exists");
                }
            }
            var spec = (await OciBundle.LoadAsync(bundle, cancellationToken).ConfigureAwait(false)).Spec;
            var (role, sandboxId) = PodGrouping.Classify(spec.Annotations, request.Id);
            var init = new ShimProcess(request.Id, "", stdin, stdout, stderr, request.Terminal, request.Stdin, request.Stdout, request.Stderr);
            var task = new ShimTask(request.Id, bundle, role, init, [.. request.Rootfs]) { IsCriO = spec.Annotations.ContainsKey(PodGrouping.CriOContainerType) };
            PodVm vm;
            if (role == PodRole.PodContainer)
            {
                vm = _vm is { } running && running.SandboxId == sandboxId && running.Teardown is null && !running.Gone.Task.IsCompleted
                    ? running
                    : throw TaskException.FailedPrecondition($"sandbox {sandboxId} of container {request.Id} is not running in this shim");
            }
            else
            {
                if (_vm is { } other)
                {
                    throw TaskException.FailedPrecondition($"this shim runs the VM of {other.SandboxId}; {role.ToString().ToLowerInvariant()} task {request.Id} needs a shim of its own");
                }
                var configuration = LoadConfiguration(request.Options);
                vm = await BootVmAsync(configuration, ConfigurationPathOf(request.Options), sandboxId, spec, cancellationToken).ConfigureAwait(false);
                _vm = vm;
                BundleState.Write(bundle, new BundleState { VmStateDirectory = vm.StateDirectory });
            }
            if (role != PodRole.Sandbox)
            {
                try
                {
                    await CreateContainerAsync(vm, task, spec, request, cancellationToken).ConfigureAwait(false);
                }
                catch
                {
                    if (role == PodRole.Single)
                    {
                        await StopVmAsync(vm, graceful: false).ConfigureAwait(false);
                        await vm.Gone.Task.ConfigureAwait(false);
                        _vm = null;
                        BundleState.Delete(bundle);
                    }
                    throw;
                }
            }
            init.Pid = vm.Pid;
            lock (_tasks)
            {
                _tasks.Add(task.Id, task);
            }
            _events.Publish(new TaskCreate
            {
                ContainerId = task.Id,
                Bundle = bundle,
                Rootfs = { request.Rootfs.Select(m => new KataAgent.Protocols.Containerd.Types.Mount { Type = m.Type, Source = m.Source, Target = m.Target, Options = { m.Options } }) },
                Io = new TaskIO { Stdin = request.Stdin, Stdout = request.Stdout, Stderr = request.Stderr, Terminal = request.Terminal },
                Checkpoint = request.Checkpoint,
                Pid = init.Pid,
            });
            return new CreateTaskResponse { Pid = init.Pid };
        }
        finally
        {
            _tableGate.Release();
        }
    }

    /// <summary>The container of <paramref name="task"/> in the VM: rootfs mounted and shared, spec rewritten, the VM grown if it must, stdio attached.</summary>
    private async Task CreateContainerAsync(PodVm vm, ShimTask task, Spec spec, CreateTaskRequest request, CancellationToken cancellationToken)
    {
        string rootfs;
        if (request.Rootfs.Count > 0)
        {
            rootfs = Path.Combine(task.Bundle, "rootfs");
            RootfsMounter.MountAll(request.Rootfs, rootfs);
            task.MountedRootfs = rootfs;
            BundleState.Write(task.Bundle, new BundleState { VmStateDirectory = task.Role == PodRole.Single ? vm.StateDirectory : null, RootfsMounted = true });
        }
        else
        {
            // ctr run --rootfs: no mounts, config.json names the directory (made absolute by OciBundle).
            rootfs = spec.Root?.Path is { Length: > 0 } root ? root : throw TaskException.InvalidArgument("config.json root.path", "is empty and containerd gave no rootfs mounts");
        }
        Container? container = null;
        try
        {
            var guest = VmSpecRewriter.ForGuest(spec, request.Terminal);
            task.Resources = guest.Linux?.Resources;
            await GrowVmForAsync(vm, task, cancellationToken).ConfigureAwait(false);
            // Only a pod has a PID namespace to share; a lone container's path names a host process's.
            var options = new ContainerOptions { SandboxPidNamespace = task.Role == PodRole.PodContainer && VmSpecRewriter.SharesPodPidNamespace(spec) };
            container = await vm.Sandbox.CreateContainerAsync(task.Id, rootfs, guest, options, cancellationToken).ConfigureAwait(false);
            task.Container = container;
            task.Init.Agent = container.InitProcess;
            task.Init.Io = await ProcessIo.StartAsync(container.InitProcess, task.Init.Stdin, task.Init.Stdout, task.Init.Stderr, request.Terminal,
                task.Id, _arguments.Namespace, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            if (container is not null)
            {
                await RemoveQuietlyAsync(container).ConfigureAwait(false);
            }
            if (task.MountedRootfs is { } mounted)
            {
                RootfsMounter.UnmountAll(mounted);
                task.MountedRootfs = null;
                BundleState.Delete(task.Bundle);
            }
            throw;
        }
    }

    /// <summary>Boots the VM for <paramref name="sandboxId"/> (a sandbox, or a lone container), in the netns its spec names.</summary>
    private async Task<PodVm> BootVmAsync(ShimConfiguration configuration, string configurationPath, string sandboxId, Spec spec, CancellationToken cancellationToken)
    {
        string state = VmStatePaths.For(configuration.StateRoot, _arguments.Namespace, sandboxId);
        if (Directory.Exists(state))
        {
            // Left by a shim that died (its qemu died with it): take it away before booting anew.
            ShimLog.Warn($"removing stale VM state {state} of sandbox {sandboxId}");
            await Sandbox.RemoveStaleAsync(state, cancellationToken).ConfigureAwait(false);
        }
        Directory.CreateDirectory(configuration.StateRoot);
        var size = VmSizing.ForSandbox(spec, configuration.Sizing);
        var options = new SandboxOptions
        {
            Id = sandboxId,
            Hostname = spec.Hostname,
            NetworkModel = ShimConfigurationLoader.NetworkModelOf(configuration),
            RootfsMode = ShimConfigurationLoader.RootfsModeOf(configuration),
            Vm = new QemuOptions
            {
                KernelPath = configuration.Kernel!,
                InitrdPath = configuration.Initrd!,
                StateDirectory = state,
                QemuPath = configuration.Qemu,
                VirtiofsdPath = configuration.Virtiofsd,
                AllowKvm = configuration.AllowKvm,
                AgentTimeout = TimeSpan.FromSeconds(configuration.AgentTimeoutSeconds),
                DebugConsole = configuration.DebugConsole,
                AgentChannel = ShimConfigurationLoader.AgentChannelOf(configuration),
                NetworkNamespacePath = VmSpecRewriter.NetworkNamespaceOf(spec),
            },
        };
        options = options with { Vm = size.ApplyTo(options.Vm) };
        var sandbox = await Sandbox.StartAsync(options, cancellationToken).ConfigureAwait(false);
        var vm = new PodVm(sandbox, sandboxId, state, size, configuration.Sizing) { ConfigurationPath = configurationPath };
        ShimLog.Info($"VM of {sandboxId} booted: qemu pid {vm.Pid}, {size.BootCpus} vCPUs (max {size.MaxCpus}), {size.BootMemoryMiB} MiB (max {size.MaxMemoryMiB}) from {size.Source}, state {state}");
        _ = WatchVmAsync(vm);
        _ = WatchOomAsync(vm);
        return vm;
    }

    private static void ValidateId(string id, string field)
    {
        if (ContainerIds.Problem(id) is { } problem)
        {
            throw TaskException.InvalidArgument(field, problem);
        }
    }

    /// <summary>The bundle: an absolute, existing directory, so that nothing is written through a relative or missing path.</summary>
    private static string ValidateBundle(string bundle)
    {
        if (bundle.Length == 0 || bundle.Contains('\0') || !Path.IsPathFullyQualified(bundle))
        {
            throw TaskException.InvalidArgument("bundle", $"'{bundle}' is not an absolute path");
        }
        string full = Path.GetFullPath(bundle);
        if (!Directory.Exists(full))
        {
            throw TaskException.InvalidArgument("bundle", $"{full} does not exist");
        }
        return full;
    }

    private static async Task RemoveQuietlyAsync(Container container)
    {
        try
        {
            await container.RemoveAsync(cancellationToken: CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            ShimLog.Warn($"removing container {container.Id} after a failed create: {e.Message}");
        }
        await container.DisposeAsync().ConfigureAwait(false);
    }
}
