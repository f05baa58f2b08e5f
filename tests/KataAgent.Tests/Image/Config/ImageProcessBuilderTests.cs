using FluentAssertions;
using KataAgent.Image;
using KataAgent.Image.Config;
using KataAgent.Image.Manifests;
using Xunit;

namespace KataAgent.Tests.Image.Config;

/// <summary>
/// Image config → process: docker's and Kubernetes' override rules for Entrypoint and Cmd, Env merged by name
/// with docker's default PATH, WorkingDir, and User in every form, resolved in the rootfs's own /etc/passwd and
/// /etc/group (a symlink pointing out of the rootfs is resolved inside it, a fifo is refused, not waited on).
/// </summary>
public sealed class ImageProcessBuilderTests : IDisposable
{
    private const string Passwd = """
        root:x:0:0:root:/root:/bin/sh
        # a comment, and a malformed line:
        broken:x:notanumber:0::/:/bin/false
        alice:x:1000:1000:Alice:/home/alice:/bin/sh
        bob:x:1001:100::/home/bob:/bin/sh
        nobody:x:65534:65534:nobody:/:/bin/false
        """;

    private const string Group = """
        root:x:0:
        users:x:100:alice
        alice:x:1000:
        staff:x:50:alice,bob
        wheel:x:10:root,alice
        audio:x:29:bob
        """;

    private readonly TempDirectory _scratch = new();
    private readonly string _rootfs;

    public ImageProcessBuilderTests()
    {
        _rootfs = _scratch.CreateDirectory("rootfs");
        Directory.CreateDirectory(Path.Combine(_rootfs, "etc"));
        File.WriteAllText(Path.Combine(_rootfs, "etc/passwd"), Passwd + "\n");
        File.WriteAllText(Path.Combine(_rootfs, "etc/group"), Group + "\n");
    }

    public void Dispose() => _scratch.Dispose();

    private static ImageConfig Config(string[]? entrypoint = null, string[]? cmd = null, string[]? env = null, string? workdir = null, string? user = null) =>
        new() { Config = new ImageRunConfig { Entrypoint = entrypoint, Cmd = cmd, Env = env, WorkingDir = workdir, User = user } };

    private ImageProcess Build(ImageConfig config, string[]? entrypoint = null, string[]? args = null, string[]? extraEnv = null, string? user = null) =>
        ImageProcessBuilder.Build(config, _rootfs, entrypoint, args, extraEnv, user);

    public static TheoryData<string[]?, string[]?, string[]?, string[]?, string[]> Overrides => new()
    {
        // image entrypoint, image cmd, caller entrypoint, caller args → args
        { ["/bin/ep"], ["c1", "c2"], null, null, ["/bin/ep", "c1", "c2"] },
        { null, ["sh", "-c", "x"], null, null, ["sh", "-c", "x"] },
        { ["/bin/ep"], null, null, null, ["/bin/ep"] },
        { ["/bin/ep"], ["c1"], null, ["a1"], ["/bin/ep", "a1"] },
        { null, ["sh"], null, ["ls", "-l"], ["ls", "-l"] },
        { ["/bin/ep"], ["c1"], ["/bin/other"], null, ["/bin/other"] },
        { ["/bin/ep"], ["c1"], ["/bin/other"], ["a1"], ["/bin/other", "a1"] },
        { ["/bin/ep"], ["c1"], [], ["ls"], ["ls"] },
    };

    [Theory]
    [MemberData(nameof(Overrides))]
    public void Entrypoint_and_cmd_follow_docker_and_kubernetes(string[]? imageEntrypoint, string[]? imageCmd, string[]? entrypoint, string[]? args, string[] expected)
    {
        Build(Config(imageEntrypoint, imageCmd), entrypoint, args).Args.Should().Equal(expected);
    }

    [Fact]
    public void No_command_at_all_is_refused()
    {
        var build = () => Build(Config());
        build.Should().Throw<ImageException>().Where(e => e.Kind == ImageErrorKind.InvalidInput && e.Message.Contains("neither Entrypoint nor Cmd"));
        var empty = () => Build(Config(cmd: ["sh"]), entrypoint: [], args: null);
        empty.Should().Throw<ImageException>().Where(e => e.Kind == ImageErrorKind.InvalidInput);
    }

    [Fact]
    public void Env_is_the_images_then_the_callers_by_name_with_a_default_path()
    {
        var process = Build(Config(cmd: ["sh"], env: ["A=1", "B=2", "PATH=/bin"]), extraEnv: ["B=3", "C=4", "A=", "D=x=y"]);
        process.Env.Should().Equal("A=", "B=3", "PATH=/bin", "C=4", "D=x=y");

        Build(Config(cmd: ["sh"], env: ["A=1"])).Env.Should().Equal("A=1", ImageProcessBuilder.DefaultPath);
        Build(Config(cmd: ["sh"]), extraEnv: ["PATH=/mine"]).Env.Should().Equal("PATH=/mine");

        var bad = () => Build(Config(cmd: ["sh"]), extraEnv: ["=oops"]);
        bad.Should().Throw<ImageException>().Where(e => e.Kind == ImageErrorKind.InvalidInput && e.Message.Contains("'=oops'"));
        var noEquals = () => Build(Config(cmd: ["sh"]), extraEnv: ["JUSTNAME"]);
        noEquals.Should().Throw<ImageException>().Where(e => e.Message.Contains("'JUSTNAME'"));
    }

    [Fact]
    public void Working_dir_defaults_to_root_and_must_be_absolute()
    {
        Build(Config(cmd: ["sh"])).Cwd.Should().Be("/");
        Build(Config(cmd: ["sh"], workdir: "/srv/app")).Cwd.Should().Be("/srv/app");
        var relative = () => Build(Config(cmd: ["sh"], workdir: "app"));
        relative.Should().Throw<ImageException>().Where(e => e.Kind == ImageErrorKind.InvalidInput && e.Message.Contains("'app'"));
    }

    public static TheoryData<string?, string?, uint, uint, uint[]> Users => new()
    {
        // image user, caller user → uid, gid, additional gids
        { null, null, 0, 0, [10] },
        { "", null, 0, 0, [10] },
        { "alice", null, 1000, 1000, [100, 50, 10] },
        { "bob", null, 1001, 100, [50, 29] },
        { "1000", null, 1000, 1000, [100, 50, 10] },
        { "4242", null, 4242, 0, [] },
        { "alice:staff", null, 1000, 50, [100, 10] },
        { "alice:77", null, 1000, 77, [100, 50, 10] },
        { "1001:wheel", null, 1001, 10, [50, 29] },
        { "4242:4343", null, 4242, 4343, [] },
        { "nobody", "alice", 1000, 1000, [100, 50, 10] },
        { "alice", "0:0", 0, 0, [10] },
    };

    [Theory]
    [MemberData(nameof(Users))]
    public void Users_resolve_in_the_images_files(string? imageUser, string? user, uint uid, uint gid, uint[] groups)
    {
        var process = Build(Config(cmd: ["sh"], user: imageUser), user: user);
        process.Uid.Should().Be(uid);
        process.Gid.Should().Be(gid);
        process.AdditionalGids.Should().Equal(groups);
    }

    [Theory]
    [InlineData("mallory", "user 'mallory' is not in the image's /etc/passwd")]
    [InlineData("alice:nogroup", "group 'nogroup' is not in the image's /etc/group")]
    [InlineData("1000:nogroup", "group 'nogroup'")]
    [InlineData("broken", "user 'broken'")]
    [InlineData("alice:", "user 'alice:'")]
    [InlineData(":50", "user ':50'")]
    [InlineData("99999999999", "uid 99999999999 is out of range")]
    [InlineData("0:2147483648", "gid 2147483648 is out of range")]
    public void Unknown_names_and_bad_ids_are_refused_naming_them(string user, string message)
    {
        var build = () => Build(Config(cmd: ["sh"]), user: user);
        build.Should().Throw<ImageException>().Where(e => e.Kind == ImageErrorKind.InvalidInput && e.Message.Contains(message));
    }

    [Fact]
    public void Without_passwd_names_are_refused_and_numbers_work()
    {
        File.Delete(Path.Combine(_rootfs, "etc/passwd"));
        File.Delete(Path.Combine(_rootfs, "etc/group"));
        Build(Config(cmd: ["sh"]), user: "1000:1000").Should().Match<ImageProcess>(p => p.Uid == 1000 && p.Gid == 1000 && p.AdditionalGids.Count == 0);
        var name = () => Build(Config(cmd: ["sh"]), user: "alice");
        name.Should().Throw<ImageException>().Where(e => e.Message.Contains("'alice'") && e.Message.Contains("no /etc/passwd"));
        var group = () => Build(Config(cmd: ["sh"]), user: "0:staff");
        group.Should().Throw<ImageException>().Where(e => e.Message.Contains("'staff'") && e.Message.Contains("no /etc/group"));
    }

    [Fact]
    public void A_passwd_symlink_pointing_out_of_the_rootfs_is_resolved_inside_it()
    {
        string outside = _scratch.CreateDirectory("outside");
        File.WriteAllText(Path.Combine(outside, "passwd"), "evil:x:0:0::/:/bin/sh\n");
        File.Delete(Path.Combine(_rootfs, "etc/passwd"));
        File.CreateSymbolicLink(Path.Combine(_rootfs, "etc/passwd"), outside + "/passwd");
        Directory.CreateDirectory(Path.Combine(_rootfs, outside.TrimStart('/')));
        File.WriteAllText(Path.Combine(_rootfs, outside.TrimStart('/'), "passwd"), "inside:x:7:8::/:/bin/sh\n");

        Build(Config(cmd: ["sh"]), user: "inside").Should().Match<ImageProcess>(p => p.Uid == 7 && p.Gid == 8);
        var evil = () => Build(Config(cmd: ["sh"]), user: "evil");
        evil.Should().Throw<ImageException>().Where(e => e.Message.Contains("'evil'"));

        File.Delete(Path.Combine(_rootfs, "etc/passwd"));
        File.CreateSymbolicLink(Path.Combine(_rootfs, "etc/passwd"), "../../../../../../../../" + outside.TrimStart('/') + "/passwd");
        Build(Config(cmd: ["sh"]), user: "inside").Uid.Should().Be(7);
    }

    [Fact]
    public void A_fifo_for_passwd_is_refused_without_waiting()
    {
        File.Delete(Path.Combine(_rootfs, "etc/passwd"));
        HostTools.Run("mkfifo", Path.Combine(_rootfs, "etc/passwd"));
        var build = () => Build(Config(cmd: ["sh"]), user: "alice");
        build.Should().Throw<ImageException>().Where(e => e.Kind == ImageErrorKind.InvalidInput && e.Message.Contains("/etc/passwd is not a regular file"));
    }
}
