using System.Text.Json;
using FluentAssertions;
using KataAgent.Host.Checkpoints;
using KataAgent.Host.Sandboxes;
using KataAgent.Host.Vm;
using KataAgent.Testing;
using Xunit;

namespace KataAgent.Tests.HostCheckpoints;

/// <summary>
/// A checkpoint directory's manifest and checksums: a whole one reads back; a missing, truncated, grown or corrupt file
/// is named; a manifest that is missing, corrupt, of another version or names a path outside the directory is refused.
/// </summary>
public sealed class CheckpointDirectoryTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>A checkpoint directory as <see cref="Sandbox.CheckpointAsync"/> lays it out, with small made-up files.</summary>
    private async Task<string> WriteAsync(Action<string>? damage = null, Func<CheckpointManifest, CheckpointManifest>? change = null)
    {
        string directory = _temp.File("checkpoint");
        CheckpointDirectory.Create(directory);
        string kernel = _temp.File("vmlinuz");
        string initrd = _temp.File("initrd.img");
        File.WriteAllText(kernel, "kernel");
        File.WriteAllText(initrd, "initrd");
        File.WriteAllBytes(Path.Combine(directory, CheckpointDirectory.StateFile), [1, 2, 3, 4, 5, 6, 7, 8]);
        File.WriteAllText(Path.Combine(directory, "disks", "c1.ext4"), "disk contents");
        var record = new CheckpointRecord
        {
            Id = "sb",
            Hostname = "sb",
            Vm = new QemuOptions { KernelPath = kernel, InitrdPath = initrd, StateDirectory = "/run/sb" },
            UsesKvm = false,
            Hotplug = new QemuHotplugState { Disks = [new QemuHotplugDisk(4, "/run/sb/disks/c1.ext4", false, "raw")] },
            Disks = [new CheckpointDisk(4, false, "disks/c1.ext4")],
            Containers = [new CheckpointContainer("c1", [new CheckpointProcess("c1", 10, 0)])],
        };
        File.WriteAllBytes(Path.Combine(directory, CheckpointDirectory.RecordFile), JsonSerializer.SerializeToUtf8Bytes(record, CheckpointJsonContext.Default.CheckpointRecord));
        var files = new List<CheckpointFile>();
        foreach (string name in new[] { CheckpointDirectory.StateFile, "disks/c1.ext4", CheckpointDirectory.RecordFile })
        {
            files.Add(await CheckpointDirectory.DescribeAsync(Path.Combine(directory, name), name, CancellationToken.None));
        }
        var manifest = new CheckpointManifest
        {
            FormatVersion = CheckpointDirectory.FormatVersion,
            SandboxId = "sb",
            CreatedAt = DateTimeOffset.UtcNow,
            AgentVersion = "test",
            QemuVersion = "7.2.0",
            Kernel = await CheckpointDirectory.DescribeAsync(kernel, kernel, CancellationToken.None),
            Initrd = await CheckpointDirectory.DescribeAsync(initrd, initrd, CancellationToken.None),
            MemoryBytes = 100,
            Files = files,
        };
        await CheckpointDirectory.WriteManifestAsync(directory, change?.Invoke(manifest) ?? manifest, CancellationToken.None);
        damage?.Invoke(directory);
        return directory;
    }

    private static Task<(CheckpointManifest, CheckpointRecord)> ReadAsync(string directory) =>
        CheckpointDirectory.ReadVerifiedAsync(directory, null, CancellationToken.None);

    [Fact]
    public async Task A_whole_checkpoint_reads_back_with_its_records()
    {
        string directory = await WriteAsync();

        var (manifest, record) = await ReadAsync(directory);

        manifest.Files.Select(f => f.Path).Should().Equal(CheckpointDirectory.StateFile, "disks/c1.ext4", CheckpointDirectory.RecordFile);
        manifest.Files[0].Sha256.Should().Be("66840dda154e8a113c31dd0ad32f7f3a366a80e8136979d8f5a101d3d29d6f72", "SHA-256 of bytes 1..8");
        record.Containers.Single().Processes.Single().StdoutOffset.Should().Be(10);
        record.Hotplug.Disks.Single().Port.Should().Be(4);
    }

    [Fact]
    public async Task A_truncated_file_is_named_as_truncated()
    {
        string directory = await WriteAsync(d => File.WriteAllBytes(Path.Combine(d, CheckpointDirectory.StateFile), [1, 2, 3]));

        (await ((Func<Task>)(() => ReadAsync(directory))).Should().ThrowAsync<CheckpointException>())
            .Which.Message.Should().Contain("vm-state.zst is truncated: 3 of 8 bytes");
    }

    [Fact]
    public async Task A_file_of_the_right_size_with_other_bytes_is_named_as_corrupt()
    {
        string directory = await WriteAsync(d => File.WriteAllText(Path.Combine(d, "disks", "c1.ext4"), "disk cOntents"));

        (await ((Func<Task>)(() => ReadAsync(directory))).Should().ThrowAsync<CheckpointException>())
            .Which.Message.Should().Contain("c1.ext4 is corrupt: its SHA-256 is");
    }

    [Fact]
    public async Task A_grown_or_missing_file_is_named()
    {
        string grown = await WriteAsync(d => File.AppendAllText(Path.Combine(d, "disks", "c1.ext4"), "more"));
        (await ((Func<Task>)(() => ReadAsync(grown))).Should().ThrowAsync<CheckpointException>())
            .Which.Message.Should().Contain("c1.ext4 has 17 bytes, not the 13");

        _temp.Dispose();
        string missing = await WriteAsync(d => File.Delete(Path.Combine(d, CheckpointDirectory.RecordFile)));
        (await ((Func<Task>)(() => ReadAsync(missing))).Should().ThrowAsync<CheckpointException>())
            .Which.Message.Should().Contain("records/sandbox.json").And.Contain("is missing");
    }

    [Fact]
    public async Task A_changed_kernel_is_refused()
    {
        string directory = await WriteAsync(_ => File.WriteAllText(_temp.File("vmlinuz"), "kernEl"));

        (await ((Func<Task>)(() => ReadAsync(directory))).Should().ThrowAsync<CheckpointException>())
            .Which.Message.Should().Contain("the guest kernel").And.Contain("is corrupt");
    }

    [Fact]
    public async Task A_missing_corrupt_or_other_version_manifest_is_refused()
    {
        string none = await WriteAsync(d => File.Delete(Path.Combine(d, CheckpointDirectory.ManifestFile)));
        (await ((Func<Task>)(() => ReadAsync(none))).Should().ThrowAsync<CheckpointException>())
            .Which.Message.Should().Contain("manifest.json is missing");

        _temp.Dispose();
        string corrupt = await WriteAsync(d => File.WriteAllText(Path.Combine(d, CheckpointDirectory.ManifestFile), "{\"formatVersion\": 1, \"files\": ["));
        (await ((Func<Task>)(() => ReadAsync(corrupt))).Should().ThrowAsync<CheckpointException>())
            .Which.Message.Should().Contain("manifest.json is corrupt");

        _temp.Dispose();
        string other = await WriteAsync(change: m => m with { FormatVersion = 99 });
        (await ((Func<Task>)(() => ReadAsync(other))).Should().ThrowAsync<CheckpointException>())
            .Which.Message.Should().Contain("format version 99 is not 1");
    }

    [Fact]
    public async Task A_manifest_path_outside_the_directory_is_refused()
    {
        string directory = await WriteAsync(change: m => m with { Files = [.. m.Files, new CheckpointFile("../vmlinuz", 6, m.Kernel.Sha256)] });

        (await ((Func<Task>)(() => ReadAsync(directory))).Should().ThrowAsync<CheckpointException>())
            .Which.Message.Should().Contain("'../vmlinuz' is not inside the checkpoint directory");
    }

    [Fact]
    public async Task A_new_checkpoint_needs_an_empty_directory()
    {
        string directory = await WriteAsync();

        FluentActions.Invoking(() => CheckpointDirectory.Create(directory)).Should().Throw<CheckpointException>().WithMessage("*is not empty*");
    }
}
