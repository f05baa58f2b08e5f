using FluentAssertions;
using Google.Protobuf;
using KataAgent.Host;
using KataAgent.Protocols.Agent;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Agent.Files;

/// <summary>
/// CopyFile through the published agent, running as root on a unix socket: it writes below
/// /run/kata-containers (Kata's CONTAINER_BASE), so each test works in a unique directory there and removes it.
/// </summary>
public sealed class CopyFileTests : IAsyncLifetime
{
    private const uint RegularFile = 0x8000;
    private const uint Directory = 0x4000;
    private const uint Symlink = 0xA000;

    private readonly string _root = $"/run/kata-containers/copyfile-test-{Guid.NewGuid():N}";
    private readonly string _outside = Path.Combine(Path.GetTempPath(), $"copyfile-outside-{Guid.NewGuid():N}");
    private AgentProcess _agent = null!;
    private AgentClient _client = null!;

    public async Task InitializeAsync()
    {
        System.IO.Directory.CreateDirectory(_root);
        System.IO.Directory.CreateDirectory(_outside);
        _agent = AgentProcess.StartOnUnixSocket();
        _client = await _agent.ConnectAsync();
    }

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync();
        await _agent.DisposeAsync();
        System.IO.Directory.Delete(_root, recursive: true);
        System.IO.Directory.Delete(_outside, recursive: true);
    }

    [Fact]
    public async Task A_file_in_chunks_arrives_with_its_content_mode_and_owner_and_its_parents_are_created()
    {
        string path = $"{_root}/a/b/config.json";
        byte[] content = new byte[300_000];
        new Random(11).NextBytes(content);
        int[] cuts = [0, 1, 65_536, 200_000, content.Length];

        for (int i = 0; i < cuts.Length - 1; i++)
        {
            File.Exists(path).Should().BeFalse("the file is moved into place only when its last chunk arrives");
            await _client.CopyFileAsync(Chunk(path, content, cuts[i], cuts[i + 1], mode: RegularFile | 0x1A0 /* 0640 */));
        }

        (await File.ReadAllBytesAsync(path)).Should().Equal(content);
        Stat(path).Should().Be("1234:2345:640:regular file");
        Stat($"{_root}/a").Should().Be("1234:2345:750:directory", "parents are created with dir_mode and the file's owner");
        Stat($"{_root}/a/b").Should().Be("1234:2345:750:directory");
        TemporaryFiles($"{_root}/a/b").Should().BeEmpty();

        // Sent again, the file is replaced whole; an empty file needs one empty chunk.
        await _client.CopyFileAsync(Chunk(path, [1, 2, 3], 0, 3, mode: 0x180 /* 0600, no type: a regular file */));
        (await File.ReadAllBytesAsync(path)).Should().Equal(1, 2, 3);
        Stat(path).Should().Be("1234:2345:600:regular file");
        await _client.CopyFileAsync(Chunk($"{_root}/empty", [], 0, 0, mode: RegularFile | 0x1A4));
        new FileInfo($"{_root}/empty").Length.Should().Be(0);
    }

    [Fact]
    public async Task A_directory_is_made_with_its_mode_and_owner()
    {
        string path = $"{_root}/shared/dir";
        await _client.CopyFileAsync(new CopyFileRequest { Path = path, FileMode = Directory | 0x1C8 /* 0710 */, DirMode = 0x1ED, Uid = 1234, Gid = 2345 });

        Stat(path).Should().Be("1234:2345:710:directory");
        Stat($"{_root}/shared").Should().Be("1234:2345:755:directory");

        // Again, on the directory that now exists: Kata sets its mode and owner anew.
        await _client.CopyFileAsync(new CopyFileRequest { Path = path, FileMode = Directory | 0x1ED, DirMode = 0x1ED, Uid = 1, Gid = 2 });
        Stat(path).Should().Be("1:2:755:directory");
    }

    [Fact]
    public async Task A_symlink_holds_the_target_data_names_and_replaces_an_older_link()
    {
        string path = $"{_root}/volume/..data";
        await _client.CopyFileAsync(new CopyFileRequest { Path = path, FileMode = Symlink | 0x1FF, DirMode = 0x1ED, Uid = 1234, Gid = 2345, Data = ByteString.CopyFromUtf8("..2026_12_05_1") });

        new FileInfo(path).LinkTarget.Should().Be("..2026_12_05_1");
        Stat(path).Should().Be("1234:2345:777:symbolic link");

        await _client.CopyFileAsync(new CopyFileRequest { Path = path, FileMode = Symlink | 0x1FF, Uid = 1234, Gid = 2345, Data = ByteString.CopyFromUtf8("..2026_12_05_2") });
        new FileInfo(path).LinkTarget.Should().Be("..2026_12_05_2");
        TemporaryFiles($"{_root}/volume").Should().BeEmpty();

        await Refused(new CopyFileRequest { Path = $"{_root}/volume/empty-link", FileMode = Symlink | 0x1FF }, "data");
    }

    [Fact]
    public async Task Paths_outside_the_tree_with_dotdot_relative_or_through_a_symlink_are_refused_naming_path()
    {
        File.CreateSymbolicLink($"{_root}/escape", _outside);
        System.IO.Directory.CreateDirectory($"{_root}/inside");

        await Refused(Chunk($"{_outside}/file", [1], 0, 1), "path");
        await Refused(Chunk($"{_root}/inside/../../../..{_outside}/file", [1], 0, 1), "path");
        await Refused(Chunk($"{_root}/inside/..", [1], 0, 1), "path");
        await Refused(Chunk($"{_root[1..]}/inside/file", [1], 0, 1), "path");
        await Refused(Chunk($"{_root}//inside/file", [1], 0, 1), "path");
        await Refused(Chunk("/run/kata-containers", [1], 0, 1), "path");
        await Refused(Chunk("/run/kata-containersX/file", [1], 0, 1), "path");
        await Refused(Chunk("", [1], 0, 1), "path");

        await Refused(Chunk($"{_root}/escape/file", [1], 0, 1), "path");
        await Refused(Chunk($"{_root}/escape/made/file", [1], 0, 1), "path");
        await Refused(new CopyFileRequest { Path = $"{_root}/escape/dir", FileMode = Directory | 0x1ED }, "path");
        await Refused(new CopyFileRequest { Path = $"{_root}/escape/link", FileMode = Symlink | 0x1FF, Data = ByteString.CopyFromUtf8("/") }, "path");
        // The final component is a link to a directory outside: making it "a directory" must not chmod what it points to.
        await Refused(new CopyFileRequest { Path = $"{_root}/escape", FileMode = Directory | 0x1FF, Uid = 1234 }, "path");

        System.IO.Directory.EnumerateFileSystemEntries(_outside).Should().BeEmpty("nothing was written through the link");
        Stat(_outside).Should().StartWith("0:0:", "the link's target kept its owner");
        System.IO.Directory.Exists($"{_root}/inside").Should().BeTrue();
        System.IO.Directory.EnumerateFileSystemEntries($"{_root}/inside").Should().BeEmpty();
    }

    [Fact]
    public async Task A_short_file_stays_out_of_place_and_chunks_that_do_not_continue_it_are_refused_leaving_nothing()
    {
        string path = $"{_root}/short/file";
        byte[] content = [.. Enumerable.Range(0, 10).Select(i => (byte)i)];

        await _client.CopyFileAsync(Chunk(path, content, 0, 4));
        File.Exists(path).Should().BeFalse("4 of 10 bytes is not the file");
        TemporaryFiles($"{_root}/short").Should().HaveCount(1);

        await Refused(Chunk(path, content, 6, 10), "offset");
        File.Exists(path).Should().BeFalse();
        TemporaryFiles($"{_root}/short").Should().BeEmpty("a refused chunk abandons its copy");

        await Refused(Chunk(path, content, 4, 10), "offset");
        TemporaryFiles($"{_root}/short").Should().BeEmpty();

        await _client.CopyFileAsync(Chunk(path, content, 0, 4));
        await Refused(With(Chunk(path, content, 4, 10), r => r.FileSize = 8), "data");
        TemporaryFiles($"{_root}/short").Should().BeEmpty();

        await Refused(With(Chunk(path, content, 0, 4), r => r.FileSize = -1), "file_size");
        await Refused(With(Chunk(path, content, 0, 4), r => r.Offset = -1), "offset");
        await Refused(With(Chunk(path, content, 0, 4), r => r.Offset = 11), "offset");
        await Refused(With(Chunk(path, content, 0, 4), r => r.FileMode = 0x6000 | 0x1A4), "file_mode");
        await _client.CopyFileAsync(Chunk(path, content, 0, 4));
        await Refused(With(Chunk(path, content, 4, 10), r => r.Uid = -2), "uid");
        TemporaryFiles($"{_root}/short").Should().BeEmpty("any refused chunk abandons its copy");
        await Refused(With(Chunk(path, content, 0, 4), r => r.Gid = -5), "gid");

        // A temporary file that CopyFile did not make (a hard link to another file, a symlink) is never written through.
        await File.WriteAllTextAsync($"{_root}/victim", "abcd"); // as long as the first chunk, so only the link count gives it away
        await _client.CopyFileAsync(Chunk(path, content, 0, 4));
        string temporary = TemporaryFiles($"{_root}/short").Single();
        File.Delete(temporary);
        Link(temporary, $"{_root}/victim");
        await Refused(Chunk(path, content, 4, 10), "offset");
        (await File.ReadAllTextAsync($"{_root}/victim")).Should().Be("abcd");
        await _client.CopyFileAsync(Chunk(path, content, 0, 4));
        temporary = TemporaryFiles($"{_root}/short").Single();
        File.Delete(temporary);
        File.CreateSymbolicLink(temporary, $"{_root}/victim");
        await Refused(Chunk(path, content, 4, 10), "offset");
        (await File.ReadAllTextAsync($"{_root}/victim")).Should().Be("abcd");

        File.Exists(path).Should().BeFalse();
        TemporaryFiles($"{_root}/short").Should().BeEmpty();
        (await _client.CheckAsync()).Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);

        // And the copy still works from the start.
        await _client.CopyFileAsync(Chunk(path, content, 0, 4));
        await _client.CopyFileAsync(Chunk(path, content, 4, 10));
        (await File.ReadAllBytesAsync(path)).Should().Equal(content);
    }

    private static CopyFileRequest Chunk(string path, byte[] content, int from, int to, uint mode = RegularFile | 0x1A4) => new()
    {
        Path = path,
        FileSize = content.Length,
        FileMode = mode,
        DirMode = 0x1E8, // 0750
        Uid = 1234,
        Gid = 2345,
        Offset = from,
        Data = ByteString.CopyFrom(content, from, to - from),
    };

    private static CopyFileRequest With(CopyFileRequest request, Action<CopyFileRequest> change)
    {
        change(request);
        return request;
    }

    private async Task Refused(CopyFileRequest request, string field)
    {
        var call = async () => await _client.CopyFileAsync(request);
        var error = (await call.Should().ThrowAsync<AgentStatusException>()).Which;
        error.StatusCode.Should().Be(AgentStatusCode.InvalidArgument, error.Detail);
        error.Detail.Should().StartWith($"{field}: ");
        (await _client.CheckAsync()).Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);
    }

    private static void Link(string path, string existing)
    {
        using var ln = System.Diagnostics.Process.Start("ln", [existing, path]);
        ln.WaitForExit();
        ln.ExitCode.Should().Be(0);
    }

    private static string[] TemporaryFiles(string directory) =>
        [.. System.IO.Directory.EnumerateFileSystemEntries(directory).Where(e => Path.GetFileName(e).StartsWith(".kata-copy.", StringComparison.Ordinal))];

    /// <summary>uid:gid:octal mode:type of <paramref name="path"/> itself (not following a link), as stat(1) prints them.</summary>
    private static string Stat(string path)
    {
        using var stat = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("stat", ["-c", "%u:%g:%a:%F", path]) { RedirectStandardOutput = true })!;
        string output = stat.StandardOutput.ReadToEnd().Trim();
        stat.WaitForExit();
        return output;
    }
}
