using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using FluentAssertions;
using KataAgent.Image;
using KataAgent.Image.Manifests;
using KataAgent.Image.References;
using KataAgent.Image.Store;
using Xunit;

namespace KataAgent.Tests.Image.Store;

/// <summary>
/// The content store on its own: verified ingest through a partial file, resume after a failed write, refusal of
/// wrong bytes with nothing stored, one writer per blob across store instances and processes (flock), image records
/// (names hashed into file names), lookup by name, digest and id prefix, remove and prune.
/// </summary>
public sealed class ContentStoreTests : IDisposable
{
    private readonly TempDirectory _root = new();

    public void Dispose() => _root.Dispose();

    private ContentStore NewStore() => new(_root.File("store"));

    private static (Descriptor Descriptor, byte[] Content) Blob(int size, string mediaType = MediaTypes.OciLayerTar)
    {
        var content = new byte[size];
        Random.Shared.NextBytes(content);
        return (new Descriptor { MediaType = mediaType, Digest = Digest.Sha256Of(content).ToString(), Size = size }, content);
    }

    [Fact]
    public async Task Ingests_a_blob_verified_and_renames_it_into_place()
    {
        var store = NewStore();
        var (descriptor, content) = Blob(300_000);
        var digest = Digest.Parse(descriptor.Digest);

        await store.IngestAsync(descriptor, (stream, offset, token) => stream.WriteAsync(content, token).AsTask(), CancellationToken.None);

        store.Contains(digest).Should().BeTrue();
        File.ReadAllBytes(Path.Combine(store.Root, "blobs", "sha256", digest.Hex)).Should().Equal(content);
        Directory.EnumerateFiles(Path.Combine(store.Root, "ingest"), "*.partial").Should().BeEmpty();
        await using var read = store.OpenBlob(digest);
        read.Length.Should().Be(content.Length);
    }

    [Fact]
    public async Task Wrong_bytes_are_refused_and_nothing_is_stored_or_kept()
    {
        var store = NewStore();
        var (descriptor, content) = Blob(10_000);
        var wrong = content.ToArray();
        wrong[5000] ^= 0xFF;

        var act = () => store.IngestAsync(descriptor, (stream, _, token) => stream.WriteAsync(wrong, token).AsTask(), CancellationToken.None);

        var error = (await act.Should().ThrowAsync<ImageException>()).Which;
        error.Kind.Should().Be(ImageErrorKind.DigestMismatch);
        error.Message.Should().Contain(descriptor.Digest);
        store.Contains(Digest.Parse(descriptor.Digest)).Should().BeFalse();
        Directory.EnumerateFiles(Path.Combine(store.Root, "ingest"), "*.partial").Should().BeEmpty("a wrong partial is not resumed from");
    }

    [Fact]
    public async Task More_bytes_than_the_descriptor_gives_are_refused_as_they_come()
    {
        var store = NewStore();
        var (descriptor, content) = Blob(1000);

        var act = () => store.IngestAsync(descriptor, async (stream, _, token) =>
        {
            await stream.WriteAsync(content, token);
            await stream.WriteAsync(new byte[1], token);
        }, CancellationToken.None);

        (await act.Should().ThrowAsync<ImageException>()).Which.Kind.Should().Be(ImageErrorKind.DigestMismatch);
        store.Contains(Digest.Parse(descriptor.Digest)).Should().BeFalse();
    }

    [Fact]
    public async Task A_failed_write_keeps_its_partial_and_the_next_ingest_resumes_from_it()
    {
        var store = NewStore();
        var (descriptor, content) = Blob(200_000);
        var digest = Digest.Parse(descriptor.Digest);

        var first = () => store.IngestAsync(descriptor, async (stream, offset, token) =>
        {
            offset.Should().Be(0);
            await stream.WriteAsync(content.AsMemory(0, 70_000), token);
            throw new IOException("connection reset");
        }, CancellationToken.None);
        await first.Should().ThrowAsync<IOException>();
        store.Contains(digest).Should().BeFalse("no half blob is visible");
        store.PartialLength(digest).Should().Be(70_000);

        long resumedAt = -1;
        await store.IngestAsync(descriptor, async (stream, offset, token) =>
        {
            resumedAt = offset;
            await stream.WriteAsync(content.AsMemory((int)offset), token);
        }, CancellationToken.None);

        resumedAt.Should().Be(70_000);
        File.ReadAllBytes(store.BlobPath(digest)).Should().Equal(content);
    }

    [Fact]
    public async Task A_corrupt_partial_is_caught_by_the_rehash_and_dropped()
    {
        var store = NewStore();
        var (descriptor, content) = Blob(50_000);
        var digest = Digest.Parse(descriptor.Digest);
        var garbage = new byte[20_000];
        File.WriteAllBytes(store.PartialPath(digest), garbage);

        var act = () => store.IngestAsync(descriptor, (stream, offset, token) => stream.WriteAsync(content.AsMemory((int)offset), token).AsTask(), CancellationToken.None);

        (await act.Should().ThrowAsync<ImageException>()).Which.Kind.Should().Be(ImageErrorKind.DigestMismatch);
        File.Exists(store.PartialPath(digest)).Should().BeFalse();
        await store.IngestAsync(descriptor, (stream, offset, token) => stream.WriteAsync(content.AsMemory((int)offset), token).AsTask(), CancellationToken.None);
        store.Contains(digest).Should().BeTrue();
    }

    [Fact]
    public async Task Concurrent_ingests_of_one_blob_through_two_store_instances_write_it_once()
    {
        var a = NewStore();
        var b = NewStore();
        var (descriptor, content) = Blob(400_000);
        int writers = 0;
        var release = new TaskCompletionSource();
        async Task Write(Stream stream, long offset, CancellationToken token)
        {
            Interlocked.Increment(ref writers);
            await stream.WriteAsync(content.AsMemory(0, 1000), token);
            await release.Task;
            await stream.WriteAsync(content.AsMemory(1000), token);
        }

        var first = a.IngestAsync(descriptor, Write, CancellationToken.None);
        var second = b.IngestAsync(descriptor, Write, CancellationToken.None);
        await Task.Delay(300);
        release.SetResult();
        await Task.WhenAll(first, second);

        writers.Should().Be(1, "the second waited for the first's lock and then found the blob stored");
        a.Contains(Digest.Parse(descriptor.Digest)).Should().BeTrue();
    }

    [Fact]
    public async Task An_ingest_waits_while_another_process_holds_the_blobs_lock()
    {
        var store = NewStore();
        var (descriptor, content) = Blob(5000);
        var digest = Digest.Parse(descriptor.Digest);
        var lockFile = Path.Combine(store.Root, "ingest", digest.Hex + ".lock");
        var ready = _root.File("locked");
        // flock(1) in another process plays a second puller holding the blob's lock until its stdin closes.
        var holder = Process.Start(new ProcessStartInfo(HostTools.Require("flock", "util-linux"), ["-x", lockFile, "sh", "-c", $"touch {ready}; cat >/dev/null"])
        {
            RedirectStandardInput = true,
        })!;
        try
        {
            while (!File.Exists(ready))
                await Task.Delay(20);
            bool wrote = false;
            var ingest = store.IngestAsync(descriptor, (stream, _, token) =>
            {
                wrote = true;
                return stream.WriteAsync(content, token).AsTask();
            }, CancellationToken.None);
            await Task.Delay(300);
            ingest.IsCompleted.Should().BeFalse("the other process holds the blob's lock");

            // The other process stores the blob and lets go: this ingest finds it and writes nothing.
            File.WriteAllBytes(store.BlobPath(digest), content);
            holder.StandardInput.Close();
            await holder.WaitForExitAsync();
            await ingest;

            wrote.Should().BeFalse();
        }
        finally
        {
            if (!holder.HasExited)
                holder.Kill();
            holder.Dispose();
        }
    }

    [Fact]
    public async Task Tags_finds_by_name_digest_and_prefix_and_removes()
    {
        var store = NewStore();
        var image = await StoreImageAsync(store, "example.com/app/one:v1");

        var found = store.FindImage("example.com/app/one:v1")!;
        found.ManifestDigest.Should().Be(image.ManifestDigest);
        found.Config.Architecture.Should().Be("amd64");
        found.Size.Should().BeGreaterThan(0);
        store.FindImage(image.ManifestDigest.ToString())!.Name.Should().Be("example.com/app/one:v1");
        store.FindImage(image.ManifestDigest.Hex[..12])!.Name.Should().Be("example.com/app/one:v1");
        store.FindImage("example.com/app/one:v2").Should().BeNull();
        store.FindImage("busybox").Should().BeNull();

        // A record's file is named by the name's hash, never by the name.
        var record = Directory.EnumerateFiles(Path.Combine(store.Root, "images")).Should().ContainSingle().Subject;
        Path.GetFileName(record).Should().Be(Convert.ToHexStringLower(SHA256.HashData("example.com/app/one:v1"u8)) + ".json");

        store.RemoveImage("example.com/app/one:v1").Should().BeTrue();
        store.FindImage("example.com/app/one:v1").Should().BeNull();
        store.RemoveImage("example.com/app/one:v1").Should().BeFalse();
        store.Contains(image.ManifestDigest).Should().BeTrue("blobs stay until prune");
    }

    [Fact]
    public async Task Docker_hub_short_names_are_stored_and_found_normalised()
    {
        var store = NewStore();
        await StoreImageAsync(store, "busybox");

        store.ListImages().Should().ContainSingle().Which.Name.Should().Be("docker.io/library/busybox:latest");
        store.FindImage("docker.io/library/busybox").Should().NotBeNull();
        store.FindImage("busybox:latest").Should().NotBeNull();
    }

    [Fact]
    public async Task An_ambiguous_id_prefix_finds_nothing()
    {
        var store = NewStore();
        var images = new List<StoredImage>();
        for (int i = 0; i < 40; i++)
            images.Add(await StoreImageAsync(store, $"example.com/many:t{i}"));
        // 40 digests share some first hex digit.
        var shared = images.GroupBy(i => i.ManifestDigest.Hex[0]).First(g => g.Count() > 1).Key.ToString();

        store.FindImage(shared).Should().BeNull();
        store.RemoveImage(shared).Should().BeFalse();
        store.ListImages().Should().HaveCount(40);
    }

    [Fact]
    public async Task Tagging_a_manifest_whose_blobs_are_missing_is_refused()
    {
        var store = NewStore();
        var (layer, _) = Blob(100);
        var manifest = ManifestBytes(new Descriptor { MediaType = MediaTypes.OciConfig, Digest = Digest.Sha256Of("{}"u8).ToString(), Size = 2 }, layer);
        var digest = Digest.Sha256Of(manifest);
        await store.PutAsync(digest, manifest, CancellationToken.None);

        var act = () => store.TagAsync("example.com/broken:v1", digest, CancellationToken.None);

        var error = (await act.Should().ThrowAsync<ImageException>()).Which;
        error.Kind.Should().Be(ImageErrorKind.NotFound);
        error.Message.Should().Contain("example.com/broken:v1");
    }

    [Fact]
    public async Task Put_refuses_content_that_is_not_its_digest()
    {
        var store = NewStore();
        var act = () => store.PutAsync(Digest.Sha256Of("a"u8), "b"u8.ToArray(), CancellationToken.None);
        (await act.Should().ThrowAsync<ImageException>()).Which.Kind.Should().Be(ImageErrorKind.DigestMismatch);
    }

    [Fact]
    public async Task Prune_keeps_what_records_reach_and_sweeps_the_rest_and_stale_partials()
    {
        var store = NewStore();
        var kept = await StoreImageAsync(store, "example.com/kept:v1");
        var dropped = await StoreImageAsync(store, "example.com/dropped:v1");
        store.RemoveImage("example.com/dropped:v1").Should().BeTrue();
        var (loose, content) = Blob(12_345);
        await store.IngestAsync(loose, (s, _, t) => s.WriteAsync(content, t).AsTask(), CancellationToken.None);
        var partial = store.PartialPath(Digest.Sha256Of("partial"u8));
        File.WriteAllBytes(partial, new byte[777]);
        long droppedBytes = dropped.Size + 12_345 + 777;

        long freed = await store.PruneAsync(CancellationToken.None);

        freed.Should().Be(droppedBytes);
        store.Contains(kept.ManifestDigest).Should().BeTrue();
        store.Contains(kept.ConfigDigest).Should().BeTrue();
        foreach (var layer in kept.Manifest.Layers)
            store.Contains(Digest.Parse(layer.Digest)).Should().BeTrue();
        store.Contains(dropped.ManifestDigest).Should().BeFalse();
        store.Contains(dropped.ConfigDigest).Should().BeFalse();
        store.Contains(Digest.Parse(loose.Digest)).Should().BeFalse();
        File.Exists(partial).Should().BeFalse();
        store.FindImage("example.com/kept:v1").Should().NotBeNull();
        (await store.PruneAsync(CancellationToken.None)).Should().Be(0);
    }

    [Fact]
    public async Task Prune_waits_while_a_pull_holds_the_store()
    {
        var store = NewStore();
        var (loose, content) = Blob(1000);
        await store.IngestAsync(loose, (s, _, t) => s.WriteAsync(content, t).AsTask(), CancellationToken.None);
        var use = await store.UseAsync(CancellationToken.None);

        var prune = store.PruneAsync(CancellationToken.None);
        await Task.Delay(300);
        prune.IsCompleted.Should().BeFalse("a pull in progress may not have tagged its blobs yet");
        store.Contains(Digest.Parse(loose.Digest)).Should().BeTrue();
        use.Dispose();

        (await prune).Should().Be(1000);
    }

    /// <summary>A small image (one layer of random bytes, a config for linux/amd64) stored and tagged.</summary>
    internal static async Task<StoredImage> StoreImageAsync(ContentStore store, string name)
    {
        var (layer, layerContent) = Blob(4096);
        await store.IngestAsync(layer, (s, _, t) => s.WriteAsync(layerContent, t).AsTask(), CancellationToken.None);
        var config = JsonSerializer.SerializeToUtf8Bytes(new ImageConfig
        {
            Os = "linux",
            Architecture = "amd64",
            Rootfs = new ImageRootfs { DiffIds = [Digest.Sha256Of(layerContent).ToString()] },
            Config = new ImageRunConfig { Cmd = [name] },
        }, ImageJsonContext.Default.ImageConfig);
        var configDigest = Digest.Sha256Of(config);
        await store.PutAsync(configDigest, config, CancellationToken.None);
        var manifest = ManifestBytes(new Descriptor { MediaType = MediaTypes.OciConfig, Digest = configDigest.ToString(), Size = config.Length }, layer);
        var manifestDigest = Digest.Sha256Of(manifest);
        await store.PutAsync(manifestDigest, manifest, CancellationToken.None);
        return await store.TagAsync(name, manifestDigest, CancellationToken.None);
    }

    private static byte[] ManifestBytes(Descriptor config, Descriptor layer) =>
        JsonSerializer.SerializeToUtf8Bytes(new ImageManifest
        {
            SchemaVersion = 2,
            MediaType = MediaTypes.OciManifest,
            Config = config,
            Layers = [layer],
        }, ImageJsonContext.Default.ImageManifest);
}
