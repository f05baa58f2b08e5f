using FluentAssertions;
using KataAgent.Image.Containment;
using KataAgent.Linux.Interop;
using Xunit;

namespace KataAgent.Tests.Image.Containment;

/// <summary>ContainedRoot's in-root resolution (what the image's /etc/passwd is read through), both ways.</summary>
public sealed class ContainedRootTests : IDisposable
{
    private readonly TempDirectory _scratch = new();

    public void Dispose() => _scratch.Dispose();

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Symlinks_resolve_as_inside_a_chroot(bool useOpenat2)
    {
        string outside = _scratch.CreateDirectory("outside");
        File.WriteAllText(Path.Combine(outside, "passwd"), "outside");
        string root = _scratch.CreateDirectory("root");
        Directory.CreateDirectory(Path.Combine(root, "etc"));
        Directory.CreateDirectory(Path.Combine(root, "real"));
        File.WriteAllText(Path.Combine(root, "real", "passwd"), "inside");
        File.CreateSymbolicLink(Path.Combine(root, "etc", "passwd"), "/real/passwd");
        File.CreateSymbolicLink(Path.Combine(root, "etc", "up"), "../../../../../real/passwd");
        File.CreateSymbolicLink(Path.Combine(root, "etc", "out"), outside + "/passwd");
        File.CreateSymbolicLink(Path.Combine(root, "etc", "loop"), "loop");
        using var contained = new ContainedRoot(root, useOpenat2);

        Read(contained, "etc/passwd").Should().Be("inside");
        Read(contained, "/etc/up").Should().Be("inside");
        Read(contained, "etc/../../../real/passwd").Should().Be("inside");
        contained.OpenInRoot("etc/out", Libc.O_RDONLY).Should().BeNull("the absolute target is looked up inside the root, where it does not exist");
        contained.OpenInRoot("etc/missing", Libc.O_RDONLY).Should().BeNull();
        var loop = () => contained.OpenInRoot("etc/loop", Libc.O_RDONLY);
        loop.Should().Throw<IOException>().WithMessage("*ELOOP*");
        contained.UsesOpenat2.Should().Be(useOpenat2);
    }

    private static string Read(ContainedRoot root, string path)
    {
        using var fd = root.OpenInRoot(path, Libc.O_RDONLY)!;
        using var handle = new Microsoft.Win32.SafeHandles.SafeFileHandle(fd.Detach(), ownsHandle: true);
        using var stream = new FileStream(handle, FileAccess.Read);
        return new StreamReader(stream).ReadToEnd();
    }
}
