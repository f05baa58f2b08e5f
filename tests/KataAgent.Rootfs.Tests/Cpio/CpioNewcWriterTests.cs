using System.Text;
using FluentAssertions;
using KataAgent.Rootfs.Cpio;
using Xunit;

namespace KataAgent.Rootfs.Tests.Cpio;

public sealed class CpioNewcWriterTests
{
    private const long MTime = 1_700_000_000;

    [Fact]
    public void Header_fields_are_thirteen_upper_case_hex_fields_after_the_magic()
    {
        byte[] archive = Write(w => w.AddFile("etc/hostname", "guest\n"u8, 0x1A4), blockSize: 0);

        string header = Encoding.ASCII.GetString(archive, 0, CpioNewcWriter.HeaderSize);
        header[..6].Should().Be("070701");
        string[] fields = Enumerable.Range(0, 13).Select(i => header.Substring(6 + 8 * i, 8)).ToArray();
        fields.Should().Equal(
            "00000000", // ino
            "000081A4", // mode 0100644
            "00000000", // uid
            "00000000", // gid
            "00000001", // nlink
            MTime.ToString("X8"), // mtime
            "00000006", // filesize
            "00000000", "00000000", // devmajor, devminor
            "00000000", "00000000", // rdevmajor, rdevminor
            "0000000D", // namesize: "etc/hostname" + NUL
            "00000000"); // check
        // 110 + 13 = 123, padded to 124; data 6 bytes padded to 8.
        Encoding.ASCII.GetString(archive, 110, 13).Should().Be("etc/hostname\0");
        archive[123].Should().Be(0);
        Encoding.ASCII.GetString(archive, 124, 6).Should().Be("guest\n");
        archive.AsSpan(130, 2).ToArray().Should().Equal(0, 0);
        Encoding.ASCII.GetString(archive, 132, 6).Should().Be("070701");
    }

    [Theory]
    [InlineData("a")]
    [InlineData("ab")]
    [InlineData("abc")]
    [InlineData("abcd")]
    [InlineData("abcde")]
    public void Every_entry_starts_on_a_four_byte_boundary(string name)
    {
        byte[] archive = Write(w =>
        {
            w.AddFile(name, Encoding.ASCII.GetBytes(name + "x"));
            w.AddSymlink(name + "-link", name);
            w.AddDirectory(name + ".d");
        }, blockSize: 0);

        var offsets = MagicOffsets(archive);
        offsets.Should().HaveCount(4); // three entries and the trailer
        offsets.Should().OnlyContain(o => o % 4 == 0);
        archive.Length.Should().Be(offsets[^1] + 124); // trailer: 110 + "TRAILER!!!\0" (11), padded to 124
    }

    [Fact]
    public void Trailer_has_nlink_one_and_the_archive_is_padded_to_512_bytes()
    {
        byte[] archive = Write(w => w.AddDirectory("dev"));

        archive.Length.Should().Be(512);
        int trailer = MagicOffsets(archive)[^1];
        string header = Encoding.ASCII.GetString(archive, trailer, 110);
        header.Should().Be("070701" + "00000000" + "00000000" + "00000000" + "00000000" + "00000001" + "00000000" + "00000000"
                           + "00000000" + "00000000" + "00000000" + "00000000" + "0000000B" + "00000000");
        Encoding.ASCII.GetString(archive, trailer + 110, 11).Should().Be("TRAILER!!!\0");
        archive.AsSpan(trailer + 124).ToArray().Should().OnlyContain(b => b == 0);
    }

    [Fact]
    public void Device_nodes_carry_rdev_and_symlinks_carry_their_target_as_data()
    {
        byte[] archive = Write(w =>
        {
            w.AddCharacterDevice("dev/console", 5, 1);
            w.AddSymlink("bin/sh", "busybox");
        }, blockSize: 0);

        string console = Encoding.ASCII.GetString(archive, 0, 110);
        console.Substring(6 + 8 * 1, 8).Should().Be("00002180"); // S_IFCHR | 0600
        console.Substring(6 + 8 * 9, 8).Should().Be("00000005");
        console.Substring(6 + 8 * 10, 8).Should().Be("00000001");
        int link = MagicOffsets(archive)[1];
        string linkHeader = Encoding.ASCII.GetString(archive, link, 110);
        linkHeader.Substring(6 + 8 * 1, 8).Should().Be("0000A1FF"); // S_IFLNK | 0777
        linkHeader.Substring(6 + 8 * 6, 8).Should().Be("00000007");
        Encoding.ASCII.GetString(archive, link + 120, 7).Should().Be("busybox"); // 110 + "bin/sh\0" (7) = 117, padded to 120
    }

    [Theory]
    [InlineData("/init", "init")]
    [InlineData("./bin/sh", "bin/sh")]
    [InlineData("lib//modules/", "lib/modules")]
    public void Names_are_stored_without_leading_slash_or_dot(string given, string stored) =>
        CpioNewcWriter.NormalizeName(given).Should().Be(stored);

    [Theory]
    [InlineData("")]
    [InlineData("a/../b")]
    [InlineData("a/./b")]
    [InlineData("TRAILER!!!")]
    public void Bad_names_are_refused(string name)
    {
        var writer = new CpioNewcWriter(new MemoryStream());
        var add = () => writer.AddDirectory(name);
        add.Should().Throw<ArgumentException>();
    }

    [Fact]
    public void A_name_cannot_be_added_twice_and_nothing_follows_the_trailer()
    {
        var writer = new CpioNewcWriter(new MemoryStream());
        writer.AddDirectory("etc");
        writer.Invoking(w => w.AddFile("/etc", "x"u8)).Should().Throw<ArgumentException>().WithMessage("*already*");
        writer.Finish();
        writer.Invoking(w => w.AddDirectory("var")).Should().Throw<InvalidOperationException>();
    }

    [Fact]
    public void Stream_content_shorter_than_announced_is_an_error()
    {
        var writer = new CpioNewcWriter(new MemoryStream());
        writer.Invoking(w => w.AddFile("f", new MemoryStream(new byte[3]), 10)).Should().Throw<EndOfStreamException>();
    }

    [Fact]
    public async Task Output_is_byte_identical_to_GNU_cpio_for_the_same_tree()
    {
        string cpio = HostTools.Require("cpio", "cpio");
        using var temp = new TempDirectory();
        string tree = temp.CreateDirectory("tree");
        // The tree: nested directories, files of several sizes (padding), an executable, an empty file,
        // a symlink and a character device, each with its mode set explicitly.
        Directory.CreateDirectory(Path.Join(tree, "etc"));
        Directory.CreateDirectory(Path.Join(tree, "lib/modules/6.1.0"));
        Directory.CreateDirectory(Path.Join(tree, "dev"));
        await File.WriteAllTextAsync(Path.Join(tree, "etc/hostname"), "guest\n");
        await File.WriteAllBytesAsync(Path.Join(tree, "lib/modules/6.1.0/virtio.ko"), Enumerable.Range(0, 1001).Select(i => (byte)i).ToArray());
        await File.WriteAllBytesAsync(Path.Join(tree, "init"), "#!/bin/sh\nexec /bin/agent\n"u8.ToArray());
        await File.WriteAllBytesAsync(Path.Join(tree, "etc/empty"), []);
        File.CreateSymbolicLink(Path.Join(tree, "sh"), "init");
        await HostTools.RunAsync("mknod", ["-m", "0620", Path.Join(tree, "dev/console"), "c", "5", "1"]);
        await HostTools.RunAsync("chmod", ["0755", Path.Join(tree, "init")]);
        await HostTools.RunAsync("chmod", ["0600", Path.Join(tree, "etc/empty")]);
        await HostTools.RunAsync("chmod", ["0700", Path.Join(tree, "lib/modules")]);
        string[] names =
        [
            "dev", "dev/console", "etc", "etc/empty", "etc/hostname", "init", "lib", "lib/modules", "lib/modules/6.1.0",
            "lib/modules/6.1.0/virtio.ko", "sh",
        ];
        foreach (string name in names.Reverse())
        {
            await HostTools.RunAsync("touch", ["-h", "-d", $"@{MTime}", Path.Join(tree, name)]);
        }

        byte[] gnu = await HostTools.RunForBytesAsync(cpio, ["-o", "-H", "newc", "--reproducible", "--owner=0:0", "--quiet"], tree, string.Join('\n', names) + "\n");

        byte[] ours = Write(w =>
        {
            foreach (string name in names)
            {
                string path = Path.Join(tree, name);
                var info = new FileInfo(path);
                int permissions = (int)File.GetUnixFileMode(path) & 0xFFF;
                if (info.LinkTarget is { } target)
                {
                    w.AddSymlink(name, target);
                }
                else if (name == "dev/console")
                {
                    w.AddCharacterDevice(name, 5, 1, 0x190 /* 0620 */);
                }
                else if (Directory.Exists(path))
                {
                    w.AddDirectory(name, permissions, 2 + Directory.GetDirectories(path).Length);
                }
                else
                {
                    w.AddFileFrom(name, path, permissions);
                }
            }
        });

        ours.Length.Should().Be(gnu.Length);
        ours.Should().Equal(gnu, "the archive must match GNU cpio -H newc --reproducible byte for byte");
    }

    [Fact]
    public async Task GNU_cpio_extracts_our_archive_with_content_modes_links_devices_and_mtimes()
    {
        HostTools.Require("cpio", "cpio");
        using var temp = new TempDirectory();
        string archive = temp.File("test.cpio");
        byte[] module = Enumerable.Range(0, 4099).Select(i => (byte)(i * 7)).ToArray();
        await File.WriteAllBytesAsync(archive, Write(w =>
        {
            w.AddDirectory("bin");
            w.AddFile("bin/agent", "\u007FELF-not-really"u8, 0x1ED);
            w.AddSymlink("init", "bin/agent");
            w.AddDirectory("dev");
            w.AddCharacterDevice("dev/console", 5, 1);
            w.AddCharacterDevice("dev/null", 1, 3, 0x1B6);
            w.AddDirectory("lib", 0x1C0 /* 0700 */);
            w.AddFile("lib/m.ko", module);
            w.AddDirectory("tmp", 0x3FF /* 1777 */);
        }));
        string target = temp.CreateDirectory("x");

        string listing = await HostTools.ExtractCpioAsync(archive, target);

        listing.Should().Contain("bin/agent").And.Contain("dev/console").And.Contain("lib/m.ko");
        (await File.ReadAllBytesAsync(Path.Join(target, "lib/m.ko"))).Should().Equal(module);
        (await File.ReadAllTextAsync(Path.Join(target, "bin/agent"))).Should().Be("\u007FELF-not-really");
        File.GetUnixFileMode(Path.Join(target, "bin/agent")).Should().Be((UnixFileMode)0x1ED);
        File.GetUnixFileMode(Path.Join(target, "lib")).Should().Be((UnixFileMode)0x1C0);
        File.GetUnixFileMode(Path.Join(target, "tmp")).Should().Be((UnixFileMode)0x3FF);
        new FileInfo(Path.Join(target, "init")).LinkTarget.Should().Be("bin/agent");
        File.GetLastWriteTimeUtc(Path.Join(target, "lib/m.ko")).Should().Be(DateTimeOffset.FromUnixTimeSeconds(MTime).UtcDateTime);
        var stat = await HostTools.RunAsync("stat", ["-c", "%F %t:%T %a", Path.Join(target, "dev/console"), Path.Join(target, "dev/null")]);
        stat.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Should().Equal(
            "character special file 5:1 600",
            "character special file 1:3 666");
    }

    private static byte[] Write(Action<CpioNewcWriter> add, int blockSize = 512)
    {
        var output = new MemoryStream();
        using (var writer = new CpioNewcWriter(output, MTime, leaveOpen: true))
        {
            add(writer);
            writer.Finish(blockSize);
        }
        return output.ToArray();
    }

    private static List<int> MagicOffsets(byte[] archive)
    {
        // Walk the archive by its own sizes, as the kernel does.
        var offsets = new List<int>();
        int at = 0;
        while (at + 110 <= archive.Length && Encoding.ASCII.GetString(archive, at, 6) == "070701")
        {
            offsets.Add(at);
            int fileSize = Convert.ToInt32(Encoding.ASCII.GetString(archive, at + 6 + 8 * 6, 8), 16);
            int nameSize = Convert.ToInt32(Encoding.ASCII.GetString(archive, at + 6 + 8 * 11, 8), 16);
            string name = Encoding.ASCII.GetString(archive, at + 110, nameSize - 1);
            at = Align(Align(at + 110 + nameSize) + fileSize);
            if (name == CpioNewcWriter.TrailerName)
            {
                break;
            }
        }
        return offsets;
    }

    private static int Align(int value) => (value + 3) & ~3;
}
