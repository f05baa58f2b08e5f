using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using Google.Protobuf;
using KataAgent.Host.Checkpoints;
using KataAgent.Host.Containers;
using KataAgent.Host.Network;
using KataAgent.Host.Vm;
using KataAgent.Protocols.Agent;
using ZstdSharp;

namespace KataAgent.Host.Sandboxes;

public sealed partial class Sandbox
{
    /// <summary>
    /// Checkpoints the sandbox into <paramref name="directory"/> (created; must not exist or be empty): the VM's memory
    /// and device state (QMP <c>stop</c>, <c>migrate</c> to a socket this library reads, zstd-compressed and hashed as it
    /// streams), the containers' disk images (reflinked where the filesystem can, copied sparse otherwise), the
    /// sandbox's records (its state, the VM's options and hot-plugged devices, the network journal) and a manifest with
    /// the format version, the agent's and qemu's versions and every file's SHA-256. A VM with a device qemu cannot
    /// migrate (a virtio-fs share, the vhost-user-vsock device) is refused before anything is paused.
    /// Then the sandbox runs on (<see cref="SandboxCheckpointOptions.LeaveRunning"/>) or is stopped and torn down.
    /// </summary>
    /// <exception cref="CheckpointException">A device cannot migrate (nothing was touched), the directory is in use,
    /// or the save failed (the sandbox is resumed and the partial directory removed).</exception>
    /// <exception cref="ArgumentException">An option is invalid (the message names it).</exception>
    public Task<SandboxCheckpoint> CheckpointAsync(string directory, SandboxCheckpointOptions options, IProgress<CheckpointProgress>? progress = null, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(options);
        ObjectDisposedException.ThrowIf(_finished, this);
        CheckpointValidation.Validate(options);
        return CheckpointCoreAsync(Path.GetFullPath(directory), options, progress, ct);
    }

    /// <summary>
    /// Restores a checkpoint <see cref="CheckpointAsync"/> wrote: the manifest and every file's checksum are checked
    /// first (a corrupt, truncated or missing file is named, and nothing is started); the disks are copied into the new
    /// state directory; qemu starts with the checkpointed command line and every hot-plugged device (vCPUs, DIMMs,
    /// disks, NICs) and loads the state; the VM runs on where it stopped; the agent is reconnected, the guest's clock set
    /// from the host's and its random device reseeded. Processes keep running; their output that the checkpointed
    /// sandbox's host had not read is still in the guest, for <see cref="OpenContainerAsync"/>'s handles to read.
    /// Several restores of one checkpoint run side by side, each under its own id and state directory.
    /// </summary>
    /// <exception cref="CheckpointException">The checkpoint is corrupt, truncated or of another format, or the VM did
    /// not come back (nothing is left running).</exception>
    /// <exception cref="ArgumentException">An option is invalid (the message names it).</exception>
    /// <exception cref="PodNetworkException">The pod network could not be wired in the target namespace.</exception>
    public static Task<Sandbox> RestoreAsync(string directory, SandboxRestoreOptions options, IProgress<CheckpointProgress>? progress = null, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(options);
        CheckpointValidation.Validate(options);
        return RestoreCoreAsync(Path.GetFullPath(directory), options, progress, ct);
    }

    /// <summary>The containers this object holds: those it created or opened, or a restore gave it, in order.</summary>
    public IReadOnlyList<Container> Containers => [.. _containers];

    private async Task<SandboxCheckpoint> CheckpointCoreAsync(string directory, SandboxCheckpointOptions options, IProgress<CheckpointProgress>? progress, CancellationToken ct)
    {
        ThrowIfFailed();
        if (_vm is not QemuVm vm)
        {
            throw new CheckpointException($"sandbox {Id} does not run on a qemu VM this library can checkpoint");
        }
        progress?.Report(new CheckpointProgress(CheckpointStage.Checking));
        // Refused before anything is paused, and before the directory is made: a refused checkpoint changes nothing.
        var blockers = await vm.MigrationBlockersAsync(ct).ConfigureAwait(false);
        if (blockers.Count > 0)
        {
            throw new CheckpointException($"sandbox {Id} cannot be checkpointed (nothing was stopped): {string.Join("; ", blockers)}");
        }
        if (PendingCreateSandbox is not null)
        {
            throw new CheckpointException($"sandbox {Id} cannot be checkpointed yet: its CreateSandbox has not been sent");
        }
        CheckpointDirectory.Create(directory);
        SandboxCheckpoint result;
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            result = await SaveAsync(vm, directory, options, progress, ct).ConfigureAwait(false);
        }
        catch
        {
            DeleteQuietly(directory);
            throw;
        }
        finally
        {
            _gate.Release();
        }
        progress?.Report(new CheckpointProgress(CheckpointStage.Finishing));
        if (options.LeaveRunning)
        {
            await vm.ResumeAsync(ct).ConfigureAwait(false);
        }
        else
        {
            // The checkpoint is now the pod: this copy goes without a word to its agent (whose state the checkpoint
            // holds), as DisposeAsync takes down a VM it owns, whoever started it.
            _tearingDown = true;
            _containers.Clear();
            await _vm.StopAsync(TimeSpan.Zero, CancellationToken.None).ConfigureAwait(false);
            _vmGone = true;
            await FinishTeardownAsync(CancellationToken.None).ConfigureAwait(false);
        }
        progress?.Report(new CheckpointProgress(CheckpointStage.Done));
        return result;
    }

    /// <summary>Pauses the VM and writes the checkpoint; on failure the VM runs again, as it was.</summary>
    private async Task<SandboxCheckpoint> SaveAsync(QemuVm vm, string directory, SandboxCheckpointOptions options, IProgress<CheckpointProgress>? progress, CancellationToken ct)
    {
        string agentVersion = (await vm.Agent.VersionAsync(ct).ConfigureAwait(false)).AgentVersion;
        var kernel = await CheckpointDirectory.DescribeAsync(vm.Options.KernelPath, vm.Options.KernelPath, ct).ConfigureAwait(false);
        var initrd = await CheckpointDirectory.DescribeAsync(vm.Options.InitrdPath, vm.Options.InitrdPath, ct).ConfigureAwait(false);
        var hotplug = await vm.QueryHotplugStateAsync(ct).ConfigureAwait(false);
        progress?.Report(new CheckpointProgress(CheckpointStage.Pausing));
        await vm.PauseAsync(ct).ConfigureAwait(false);
        var paused = Stopwatch.StartNew();
        try
        {
            var files = new List<CheckpointFile>();
            long memoryBytes;
            string statePath = Path.Combine(directory, CheckpointDirectory.StateFile);
            await using (var file = new FileStream(statePath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1024 * 1024, FileOptions.Asynchronous))
            {
                using var hashing = new HashingWriteStream(file);
                await using (var zstd = new CompressionStream(hashing, options.CompressionLevel, leaveOpen: true))
                {
                    var memory = progress is null ? null : new SynchronousProgress<(long Bytes, long? Total)>(p => progress.Report(new CheckpointProgress(CheckpointStage.SavingMemory, p.Bytes, p.Total)));
                    memoryBytes = await vm.MigrateToAsync(zstd, memory, ct).ConfigureAwait(false);
                }
                await file.FlushAsync(ct).ConfigureAwait(false);
                files.Add(new CheckpointFile(CheckpointDirectory.StateFile, hashing.Written, hashing.FinishHash()));
            }
            // After the migration: qemu has flushed and let go of the images, and the guest writes nothing.
            var disks = new List<CheckpointDisk>();
            var sources = vm.Options.Disks.Select((d, i) => (Port: i, Cold: true, d.ImagePath, Name: $"cold{i}.img"))
                .Concat(hotplug.Disks.Select(d => (d.Port, Cold: false, d.ImagePath,
                    Name: Path.GetDirectoryName(d.ImagePath) == Path.Combine(vm.StateDirectory, "disks") ? Path.GetFileName(d.ImagePath) : $"port{d.Port}.img")))
                .ToList();
            foreach (var (port, cold, image, name) in sources)
            {
                string relative = CheckpointDirectory.DisksDirectory + "/" + name;
                long size = new FileInfo(image).Length;
                var copied = progress is null ? null : new SynchronousProgress<long>(b => progress.Report(new CheckpointProgress(CheckpointStage.CopyingDisks, b, size, relative)));
                await DiskCopy.CopyAsync(image, Path.Combine(directory, relative), copied, ct).ConfigureAwait(false);
                disks.Add(new CheckpointDisk(port, cold, relative));
                files.Add(await CheckpointDirectory.DescribeAsync(Path.Combine(directory, relative), relative, ct).ConfigureAwait(false));
            }
            progress?.Report(new CheckpointProgress(CheckpointStage.WritingRecords));
            string journal = Path.Combine(vm.StateDirectory, NetworkJournalFileName);
            if (File.Exists(journal))
            {
                File.Copy(journal, Path.Combine(directory, CheckpointDirectory.NetworkJournalFile));
            }
            string recordsDirectory = Path.Combine(directory, "records");
            await CheckpointNetwork.SaveAsync(this, recordsDirectory, ct).ConfigureAwait(false);
            var record = new CheckpointRecord
            {
                Id = Id,
                Hostname = await ReadHostnameAsync(vm.StateDirectory, ct).ConfigureAwait(false),
                HasDns = HasDns,
                RootfsMode = RootfsMode,
                Vm = vm.Options,
                UsesKvm = vm.UsesKvm,
                Hotplug = hotplug,
                Disks = disks,
                NetworkNamespacePath = vm.Options.NetworkNamespacePath,
                // Read last: the guest has been paused for the whole save, so whatever it sent has reached these counts.
                Containers = [.. _containers.Select(c => new CheckpointContainer(c.Id, [.. c.Processes.Select(p =>
                {
                    var received = p.ReceivedOutput;
                    return new CheckpointProcess(p.ExecId, received?.Stdout, received?.Stderr);
                })]))],
            };
            await using (var stream = new FileStream(Path.Combine(directory, CheckpointDirectory.RecordFile), FileMode.CreateNew))
            {
                await JsonSerializer.SerializeAsync(stream, record, CheckpointJsonContext.Default.CheckpointRecord, ct).ConfigureAwait(false);
            }
            foreach (string path in Directory.EnumerateFiles(recordsDirectory).Order(StringComparer.Ordinal))
            {
                string relative = "records/" + Path.GetFileName(path);
                files.Add(await CheckpointDirectory.DescribeAsync(path, relative, ct).ConfigureAwait(false));
            }
            var manifest = new CheckpointManifest
            {
                FormatVersion = CheckpointDirectory.FormatVersion,
                SandboxId = Id,
                CreatedAt = DateTimeOffset.UtcNow,
                AgentVersion = agentVersion,
                QemuVersion = vm.Qmp.QemuVersion,
                Kernel = kernel,
                Initrd = initrd,
                MemoryBytes = memoryBytes,
                Files = files,
            };
            await CheckpointDirectory.WriteManifestAsync(directory, manifest, ct).ConfigureAwait(false);
            return new SandboxCheckpoint
            {
                Directory = directory,
                SandboxId = Id,
                Files = files,
                MemoryBytes = memoryBytes,
                Downtime = paused.Elapsed,
                LeftRunning = options.LeaveRunning,
            };
        }
        catch
        {
            // The pod was only paused: it runs on as if nothing happened.
            try
            {
                await vm.ResumeAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch (KataAgentException)
            {
                // qemu itself failed: the caller's error says what happened first.
            }
            throw;
        }
    }

    private static async Task<string> ReadHostnameAsync(string stateDirectory, CancellationToken ct)
    {
        await using var stream = File.OpenRead(Path.Combine(stateDirectory, StateFileName));
        var state = await JsonSerializer.DeserializeAsync(stream, SandboxStateFileJsonContext.Default.SandboxStateFile, ct).ConfigureAwait(false);
        return state?.Hostname ?? "";
    }

    private static async Task<Sandbox> RestoreCoreAsync(string directory, SandboxRestoreOptions options, IProgress<CheckpointProgress>? progress, CancellationToken ct)
    {
        progress?.Report(new CheckpointProgress(CheckpointStage.Checking));
        var (manifest, record) = await CheckpointDirectory.ReadVerifiedAsync(directory, progress, ct).ConfigureAwait(false);
        string state = Path.GetFullPath(options.StateDirectory);
        string id = options.Id ?? record.Id;
        bool madeState = !Directory.Exists(state);
        Directory.CreateDirectory(Path.Combine(state, "disks"));
        NetworkEndpoint? endpoint = null;
        try
        {
            var coldDisks = record.Vm.Disks.ToArray();
            var hotDisks = record.Hotplug.Disks.ToArray();
            foreach (var disk in record.Disks)
            {
                string source = CheckpointDirectory.Resolve(directory, disk.File, Path.Combine(directory, CheckpointDirectory.RecordFile));
                string target = CheckpointDirectory.Resolve(state, disk.File, Path.Combine(directory, CheckpointDirectory.RecordFile));
                long size = new FileInfo(source).Length;
                var copied = progress is null ? null : new SynchronousProgress<long>(b => progress.Report(new CheckpointProgress(CheckpointStage.CopyingDisks, b, size, disk.File)));
                await DiskCopy.CopyAsync(source, target, copied, ct).ConfigureAwait(false);
                if (disk.Cold)
                {
                    coldDisks[disk.Port] = coldDisks[disk.Port] with { ImagePath = target };
                }
                else
                {
                    int index = Array.FindIndex(hotDisks, d => d.Port == disk.Port);
                    hotDisks[index] = hotDisks[index] with { ImagePath = target };
                }
            }
            string? netns = options.NetworkNamespacePath ?? record.NetworkNamespacePath;
            var network = await CheckpointNetwork.RestoreAsync(new CheckpointNetworkContext(Path.Combine(directory, "records"), netns, state,
                Path.Combine(state, NetworkJournalFileName), record.Vm), ct).ConfigureAwait(false);
            endpoint = network.Endpoint;
            var vmOptions = record.Vm with
            {
                StateDirectory = state,
                Disks = coldDisks,
                NetworkDevices = network.Devices,
                NetworkNamespacePath = netns,
                Detached = options.Detached ?? record.Vm.Detached,
                AgentTimeout = options.AgentTimeout,
                // vm.json keeps what was found; the restored agent is the same one.
                AgentProtocol = record.Vm.AgentProtocol,
            };
            progress?.Report(new CheckpointProgress(CheckpointStage.Starting));
            string statePath = Path.Combine(directory, CheckpointDirectory.StateFile);
            long stateSize = new FileInfo(statePath).Length;
            QemuVm vm;
            await using (var file = new FileStream(statePath, FileMode.Open, FileAccess.Read, FileShare.Read, 1024 * 1024, FileOptions.Asynchronous | FileOptions.SequentialScan))
            await using (var zstd = new DecompressionStream(file, leaveOpen: true))
            {
                var loaded = progress is null ? null : new SynchronousProgress<long>(_ => progress.Report(new CheckpointProgress(CheckpointStage.LoadingMemory, file.Position, stateSize)));
                vm = await QemuVm.RestoreAsync(vmOptions, record.Hotplug with { Disks = hotDisks }, zstd, loaded, ct).ConfigureAwait(false);
            }
            progress?.Report(new CheckpointProgress(CheckpointStage.Resuming));
            Sandbox sandbox;
            try
            {
                // The guest's clock stood still from the checkpoint on, and its random state is the checkpoint's: every
                // restore of it would otherwise draw the same numbers.
                var now = DateTimeOffset.UtcNow;
                await vm.Agent.SetGuestDateTimeAsync(new SetGuestDateTimeRequest { Sec = now.ToUnixTimeSeconds(), Usec = now.Millisecond * 1000 + now.Microsecond }, ct).ConfigureAwait(false);
                await vm.Agent.ReseedRandomDevAsync(new ReseedRandomDevRequest { Data = ByteString.CopyFrom(RandomNumberGenerator.GetBytes(64)) }, ct).ConfigureAwait(false);
                await using (var stream = File.Create(Path.Combine(state, StateFileName)))
                {
                    await JsonSerializer.SerializeAsync(stream, new SandboxStateFile { Id = id, Hostname = record.Hostname, HasDns = record.HasDns, RootfsMode = record.RootfsMode },
                        SandboxStateFileJsonContext.Default.SandboxStateFile, ct).ConfigureAwait(false);
                }
                sandbox = new Sandbox(id, vm, new AgentClientSandboxAgent(vm.Agent), ownsVm: !vmOptions.Detached, record.HasDns, endpoint);
                foreach (var recorded in record.Containers)
                {
                    var init = recorded.Processes.FirstOrDefault();
                    var container = await Container.RestoredAsync(vm.Agent, recorded.Id, init?.ExecId ?? "", Offsets(init),
                        recorded.Processes.Skip(1).Select(p => (p.ExecId, Offsets(p))), new ContainerOptions(), ct).ConfigureAwait(false);
                    container.Owner = sandbox;
                    sandbox._containers.Add(container);
                }
            }
            catch
            {
                await vm.DisposeAsync().ConfigureAwait(false);
                throw;
            }
            progress?.Report(new CheckpointProgress(CheckpointStage.Done));
            return sandbox;
        }
        catch
        {
            if (endpoint is not null)
            {
                await endpoint.TearDownAsync(CancellationToken.None).ConfigureAwait(false);
            }
            if (madeState)
            {
                DeleteQuietly(state);
            }
            else
            {
                foreach (string entry in Directory.EnumerateFileSystemEntries(state))
                {
                    DeleteQuietly(entry);
                }
            }
            throw;
        }
    }

    private static ProcessOutputOffsets? Offsets(CheckpointProcess? process) =>
        process is { StdoutOffset: { } stdout, StderrOffset: { } stderr } ? new ProcessOutputOffsets(stdout, stderr) : null;

    private static void DeleteQuietly(string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
            else
            {
                File.Delete(path);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // What is left is named by the error the caller gets.
        }
    }
}
