using System.Text;
using FluentAssertions;
using KataAgent.Rootfs.Elf;
using KataAgent.Rootfs.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Rootfs.Tests.Elf;

public sealed class ElfFileTests
{
    [Fact]
    public void The_agent_is_a_dynamic_x86_64_executable_with_the_glibc_interpreter()
    {
        var elf = ElfFile.Read(RepoPaths.AgentBinary);

        elf.Is64Bit.Should().BeTrue();
        elf.IsLittleEndian.Should().BeTrue();
        elf.Machine.Should().Be(ElfFile.MachineX86_64);
        elf.Interpreter.Should().Be("/lib64/ld-linux-x86-64.so.2");
        elf.Needed.Should().Contain("libc.so.6");
        elf.IsStatic.Should().BeFalse();
    }

    [Fact]
    public void Busybox_static_needs_nothing()
    {
        var elf = ElfFile.Read(RepoPaths.Busybox);

        elf.Interpreter.Should().BeNull();
        elf.Needed.Should().BeEmpty();
        elf.IsStatic.Should().BeTrue();
    }

    [Fact]
    public void Libc_names_its_soname_and_needs_the_loader()
    {
        var elf = ElfFile.Read("/lib/x86_64-linux-gnu/libc.so.6");

        elf.Type.Should().Be(ElfFile.TypeShared);
        elf.SoName.Should().Be("libc.so.6");
        elf.Needed.Should().Equal("ld-linux-x86-64.so.2");
    }

    [Fact]
    public void A_kernel_module_section_is_read_by_name()
    {
        var elf = ElfFile.Parse(FakeElf.KernelModule("virtio_net", "virtio_ring", "virtio", "net_failover"), "virtio_net.ko");

        elf.Type.Should().Be(ElfFile.TypeRelocatable);
        elf.IsStatic.Should().BeTrue();
        elf.ReadModInfo().Should().Contain(new KeyValuePair<string, string>("depends", "virtio_ring,virtio,net_failover"))
            .And.Contain(new KeyValuePair<string, string>("name", "virtio_net"));
        elf.GetSection(".nothing").Should().BeNull();
    }

    [Fact]
    public void Not_elf_and_truncated_elf_are_format_errors()
    {
        FluentActions.Invoking(() => ElfFile.Parse(Encoding.ASCII.GetBytes("#!/bin/sh\necho this is a script, not ELF\n".PadRight(80)), "script"))
            .Should().Throw<ElfFormatException>().WithMessage("script: not an ELF file*");

        byte[] agentHead = File.ReadAllBytes(RepoPaths.AgentBinary)[..200]; // headers point past the end
        FluentActions.Invoking(() => ElfFile.Parse(agentHead, "head")).Should().Throw<ElfFormatException>().WithMessage("head: *past the end*");
    }
}
