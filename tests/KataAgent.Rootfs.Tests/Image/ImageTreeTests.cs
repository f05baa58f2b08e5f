using System.Text;
using FluentAssertions;
using KataAgent.Rootfs.Cpio;
using KataAgent.Rootfs.Image;
using Xunit;

namespace KataAgent.Rootfs.Tests.Image;

public sealed class ImageTreeTests
{
    [Fact]
    public void Parents_appear_on_demand_and_directories_precede_their_content()
    {
        var tree = new ImageTree();
        tree.AddTextFile("/lib/modules/6.1/kataagent.modules", "x\n");
        tree.AddTextFile("/lib-extra", "y\n");
        tree.AddDirectory("/lib");

        tree.Entries.Select(e => e.Path).Should().Equal("/lib", "/lib-extra", "/lib/modules", "/lib/modules/6.1", "/lib/modules/6.1/kataagent.modules");
    }

    [Fact]
    public void Adding_the_same_thing_twice_is_fine_and_something_else_at_a_taken_path_is_not()
    {
        var tree = new ImageTree();
        tree.AddSymlink("/bin/sh", "busybox");
        tree.AddSymlink("bin/sh", "busybox");
        tree.AddTextFile("/etc/a", "same");
        tree.AddTextFile("/etc/a", "same");

        tree.Invoking(t => t.AddSymlink("/bin/sh", "dash")).Should().Throw<InvalidOperationException>().WithMessage("*/bin/sh*symlink to busybox*");
        tree.Invoking(t => t.AddTextFile("/etc/a", "other")).Should().Throw<InvalidOperationException>();
        tree.Invoking(t => t.AddTextFile("/bin/sh/x", "under a symlink")).Should().Throw<InvalidOperationException>().WithMessage("*/bin/sh is a Symlink*");
        tree.Invoking(t => t.AddDirectory("/etc/a")).Should().Throw<InvalidOperationException>();
    }

    [Fact]
    public void Directory_link_counts_are_two_plus_subdirectories()
    {
        var tree = new ImageTree();
        tree.AddDirectory("/usr/bin");
        tree.AddDirectory("/usr/lib");
        tree.AddTextFile("/usr/file", "f");
        var output = new MemoryStream();
        using (var writer = new CpioNewcWriter(output, leaveOpen: true))
        {
            tree.WriteTo(writer);
        }

        string archive = Encoding.ASCII.GetString(output.ToArray());
        string usrHeader = archive[..110];
        usrHeader.Substring(6 + 8 * 4, 8).Should().Be("00000004"); // /usr: 2 + bin + lib
    }
}
