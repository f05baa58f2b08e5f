using System.Buffers.Binary;
using System.Text;

namespace KataAgent.Rootfs.Tests.Infrastructure;

/// <summary>Writes minimal ELF64 little-endian relocatable files with named sections: fake kernel modules.</summary>
public static class FakeElf
{
    /// <summary>A fake <c>.ko</c>: a relocatable x86-64 ELF whose <c>.modinfo</c> holds <c>name=</c> and <c>depends=</c>.</summary>
    public static byte[] KernelModule(string name, params string[] depends) =>
        Relocatable((".modinfo", Encoding.UTF8.GetBytes($"license=GPL\0depends={string.Join(',', depends)}\0retpoline=Y\0name={name}\0vermagic=6.1.0 SMP mod_unload\0")));

    /// <summary>An ELF64 LE relocatable file with the given sections (plus the null section and .shstrtab).</summary>
    public static byte[] Relocatable(params (string Name, byte[] Content)[] sections)
    {
        var names = new MemoryStream();
        names.WriteByte(0);
        var nameOffsets = new List<int>();
        foreach (var (name, _) in sections.Append((".shstrtab", Array.Empty<byte>())))
        {
            nameOffsets.Add((int)names.Length);
            names.Write(Encoding.UTF8.GetBytes(name + "\0"));
        }
        byte[] shstrtab = names.ToArray();

        var body = new MemoryStream();
        body.Write(new byte[64]);
        var placed = new List<(int Offset, int Size)>();
        foreach (var (_, content) in sections)
        {
            placed.Add(((int)body.Length, content.Length));
            body.Write(content);
        }
        placed.Add(((int)body.Length, shstrtab.Length));
        body.Write(shstrtab);
        while (body.Length % 8 != 0)
        {
            body.WriteByte(0);
        }
        int sectionHeaders = (int)body.Length;
        int count = sections.Length + 2;
        body.Write(new byte[64]); // SHN_UNDEF
        for (int i = 0; i < placed.Count; i++)
        {
            var header = new byte[64];
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(0), (uint)nameOffsets[i]);
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(4), i == placed.Count - 1 ? 3u /* SHT_STRTAB */ : 1u /* SHT_PROGBITS */);
            BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(0x18), (ulong)placed[i].Offset);
            BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(0x20), (ulong)placed[i].Size);
            BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(0x30), 1);
            body.Write(header);
        }
        byte[] elf = body.ToArray();
        "\u007FELF"u8.CopyTo(elf);
        elf[4] = 2; // ELFCLASS64
        elf[5] = 1; // ELFDATA2LSB
        elf[6] = 1; // EV_CURRENT
        BinaryPrimitives.WriteUInt16LittleEndian(elf.AsSpan(16), 1);   // ET_REL
        BinaryPrimitives.WriteUInt16LittleEndian(elf.AsSpan(18), 62);  // EM_X86_64
        BinaryPrimitives.WriteUInt32LittleEndian(elf.AsSpan(20), 1);
        BinaryPrimitives.WriteUInt64LittleEndian(elf.AsSpan(0x28), (ulong)sectionHeaders);
        BinaryPrimitives.WriteUInt16LittleEndian(elf.AsSpan(0x34), 64); // e_ehsize
        BinaryPrimitives.WriteUInt16LittleEndian(elf.AsSpan(0x3A), 64); // e_shentsize
        BinaryPrimitives.WriteUInt16LittleEndian(elf.AsSpan(0x3C), (ushort)count);
        BinaryPrimitives.WriteUInt16LittleEndian(elf.AsSpan(0x3E), (ushort)(count - 1));
        return elf;
    }
}
