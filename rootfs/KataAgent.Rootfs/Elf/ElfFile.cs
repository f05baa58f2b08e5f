using System.Buffers.Binary;
using System.Text;

namespace KataAgent.Rootfs.Elf;

/// <summary>
/// The parts of an ELF file the image builder needs, read with no external tool: the program interpreter
/// (<c>PT_INTERP</c>), the dynamic section (<c>DT_NEEDED</c>, <c>DT_SONAME</c>, <c>DT_RPATH</c>, <c>DT_RUNPATH</c>)
/// and named sections such as a kernel module's <c>.modinfo</c>. ELF32 and ELF64, either byte order.
/// </summary>
public sealed class ElfFile
{
    /// <summary><c>e_type</c> values.</summary>
    public const ushort TypeRelocatable = 1, TypeExecutable = 2, TypeShared = 3;

    /// <summary><c>e_machine</c> of x86-64.</summary>
    public const ushort MachineX86_64 = 62;

    private const uint PtLoad = 1, PtDynamic = 2, PtInterp = 3;
    private const long DtNull = 0, DtNeeded = 1, DtStrtab = 5, DtStrsz = 10, DtSoname = 14, DtRpath = 15, DtRunpath = 29;

    private readonly byte[] _data;
    private readonly string _name;
    private readonly List<(uint Type, ulong Offset, ulong VirtualAddress, ulong FileSize)> _segments = [];

    private ElfFile(byte[] data, string name)
    {
        _data = data;
        _name = name;
        if (data.Length < 52 || data[0] != 0x7F || data[1] != (byte)'E' || data[2] != (byte)'L' || data[3] != (byte)'F')
        {
            throw new ElfFormatException(name, "not an ELF file (no \\x7fELF magic)");
        }
        Is64Bit = data[4] switch
        {
            1 => false,
            2 => true,
            _ => throw new ElfFormatException(name, $"unknown ELF class {data[4]}"),
        };
        IsLittleEndian = data[5] switch
        {
            1 => true,
            2 => false,
            _ => throw new ElfFormatException(name, $"unknown ELF data encoding {data[5]}"),
        };
        if (Is64Bit && data.Length < 64)
        {
            throw new ElfFormatException(name, "truncated ELF64 header");
        }
        Type = U16(16);
        Machine = U16(18);
        ReadProgramHeaders();
        ReadDynamicSection();
    }

    /// <summary>The path or name the file was read from (for messages).</summary>
    public string Name => _name;

    /// <summary>ELFCLASS64 (otherwise ELFCLASS32).</summary>
    public bool Is64Bit { get; }

    /// <summary>ELFDATA2LSB (otherwise big-endian).</summary>
    public bool IsLittleEndian { get; }

    /// <summary><c>e_type</c>: relocatable (kernel modules), executable, shared object (libraries and PIE executables).</summary>
    public ushort Type { get; }

    /// <summary><c>e_machine</c> (62 = x86-64).</summary>
    public ushort Machine { get; }

    /// <summary>The program interpreter named by <c>PT_INTERP</c> (e.g. <c>/lib64/ld-linux-x86-64.so.2</c>), or null.</summary>
    public string? Interpreter { get; private set; }

    /// <summary>Whether the file has a dynamic section (<c>PT_DYNAMIC</c>).</summary>
    public bool HasDynamicSection { get; private set; }

    /// <summary>The <c>DT_NEEDED</c> entries, in order.</summary>
    public IReadOnlyList<string> Needed { get; private set; } = [];

    /// <summary><c>DT_SONAME</c>, or null.</summary>
    public string? SoName { get; private set; }

    /// <summary>The directories of <c>DT_RPATH</c> (colon-separated in the file), unexpanded.</summary>
    public IReadOnlyList<string> RPath { get; private set; } = [];

    /// <summary>The directories of <c>DT_RUNPATH</c>, unexpanded. When present, ld.so ignores <see cref="RPath"/>.</summary>
    public IReadOnlyList<string> RunPath { get; private set; } = [];

    /// <summary>Whether the file needs no shared object at all (no interpreter, no <c>DT_NEEDED</c>): a static executable.</summary>
    public bool IsStatic => Interpreter is null && Needed.Count == 0;

    /// <summary>Reads and parses <paramref name="path"/>.</summary>
    public static ElfFile Read(string path) => new(File.ReadAllBytes(path), path);

    /// <summary>Parses ELF bytes; <paramref name="name"/> appears in error messages.</summary>
    public static ElfFile Parse(byte[] data, string name = "<memory>")
    {
        ArgumentNullException.ThrowIfNull(data);
        return new ElfFile(data, name);
    }

    /// <summary>Whether the file at <paramref name="path"/> starts with the ELF magic.</summary>
    public static bool HasElfMagic(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
            Span<byte> magic = stackalloc byte[4];
            return stream.ReadAtLeast(magic, 4, throwOnEndOfStream: false) == 4 && magic.SequenceEqual((ReadOnlySpan<byte>)[0x7F, (byte)'E', (byte)'L', (byte)'F']);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>The content of the section named <paramref name="sectionName"/> (e.g. <c>.modinfo</c>), or null if there is none.</summary>
    public ReadOnlyMemory<byte>? GetSection(string sectionName)
    {
        ulong sectionOffset = Is64Bit ? U64(0x28) : U32(0x20);
        int entrySize = U16(Is64Bit ? 0x3A : 0x2E);
        ulong count = U16(Is64Bit ? 0x3C : 0x30);
        uint nameIndex = U16(Is64Bit ? 0x3E : 0x32);
        if (sectionOffset == 0)
        {
            return null;
        }
        if (entrySize < (Is64Bit ? 64 : 40))
        {
            throw new ElfFormatException(_name, $"section header entries of {entrySize} bytes are too small");
        }
        if (count == 0 || nameIndex == 0xFFFF)
        {
            // Extended numbering: the real count and string table index live in section 0.
            var (_, _, _, size0, link0) = Section(sectionOffset, entrySize, 0);
            count = count == 0 ? size0 : count;
            nameIndex = nameIndex == 0xFFFF ? link0 : nameIndex;
        }
        if (nameIndex >= count)
        {
            return null;
        }
        var (_, _, namesOffset, namesSize, _) = Section(sectionOffset, entrySize, nameIndex);
        ReadOnlySpan<byte> names = Slice(namesOffset, namesSize, "section name table").Span;
        for (ulong i = 0; i < count; i++)
        {
            var (nameOffset, type, offset, size, _) = Section(sectionOffset, entrySize, i);
            if (nameOffset >= (ulong)names.Length || ReadString(names, (int)nameOffset) != sectionName)
            {
                continue;
            }
            return type == 8 /* SHT_NOBITS */ ? ReadOnlyMemory<byte>.Empty : Slice(offset, size, sectionName);
        }
        return null;
    }

    /// <summary>The <c>key=value</c> strings of a kernel module's <c>.modinfo</c> section, in order; empty when it has none.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> ReadModInfo()
    {
        ReadOnlyMemory<byte>? section = GetSection(".modinfo");
        var entries = new List<KeyValuePair<string, string>>();
        if (section is null)
        {
            return entries;
        }
        foreach (string item in Encoding.UTF8.GetString(section.Value.Span).Split('\0', StringSplitOptions.RemoveEmptyEntries))
        {
            int equals = item.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                entries.Add(new(item[..equals], item[(equals + 1)..]));
            }
        }
        return entries;
    }

    private void ReadProgramHeaders()
    {
        ulong offset = Is64Bit ? U64(0x20) : U32(0x1C);
        int entrySize = U16(Is64Bit ? 0x36 : 0x2A);
        int count = U16(Is64Bit ? 0x38 : 0x2C);
        if (offset == 0 || count == 0)
        {
            return;
        }
        if (entrySize < (Is64Bit ? 56 : 32))
        {
            throw new ElfFormatException(_name, $"program header entries of {entrySize} bytes are too small");
        }
        for (int i = 0; i < count; i++)
        {
            ulong at = offset + (ulong)(i * entrySize);
            Require(at, (ulong)entrySize, "program header");
            int p = checked((int)at);
            uint type = U32(p);
            ulong fileOffset = Is64Bit ? U64(p + 8) : U32(p + 4);
            ulong virtualAddress = Is64Bit ? U64(p + 16) : U32(p + 8);
            ulong fileSize = Is64Bit ? U64(p + 32) : U32(p + 16);
            _segments.Add((type, fileOffset, virtualAddress, fileSize));
            if (type == PtInterp)
            {
                Interpreter = ReadString(Slice(fileOffset, fileSize, "PT_INTERP").Span, 0);
            }
        }
    }

    private void ReadDynamicSection()
    {
        var dynamic = _segments.FirstOrDefault(s => s.Type == PtDynamic);
        if (dynamic.Type != PtDynamic)
        {
            return;
        }
        HasDynamicSection = true;
        int entrySize = Is64Bit ? 16 : 8;
        ReadOnlyMemory<byte> table = Slice(dynamic.Offset, dynamic.FileSize, "PT_DYNAMIC");
        var entries = new List<(long Tag, ulong Value)>();
        for (int at = 0; at + entrySize <= table.Length; at += entrySize)
        {
            int p = checked((int)dynamic.Offset) + at;
            long tag = Is64Bit ? (long)U64(p) : (int)U32(p);
            ulong value = Is64Bit ? U64(p + 8) : U32(p + 4);
            if (tag == DtNull)
            {
                break;
            }
            entries.Add((tag, value));
        }
        ulong stringTableAddress = entries.FirstOrDefault(e => e.Tag == DtStrtab).Value;
        ulong stringTableSize = entries.FirstOrDefault(e => e.Tag == DtStrsz).Value;
        if (!entries.Any(e => e.Tag is DtNeeded or DtSoname or DtRpath or DtRunpath))
        {
            return;
        }
        if (stringTableAddress == 0)
        {
            throw new ElfFormatException(_name, "the dynamic section has string entries but no DT_STRTAB");
        }
        ReadOnlyMemory<byte> strings = Slice(AddressToOffset(stringTableAddress), stringTableSize, "DT_STRTAB");
        string StringAt(ulong index) => index < (ulong)strings.Length
            ? ReadString(strings.Span, (int)index)
            : throw new ElfFormatException(_name, $"dynamic string index {index} is past the string table ({strings.Length} bytes)");
        var needed = new List<string>();
        foreach (var (tag, value) in entries)
        {
            switch (tag)
            {
                case DtNeeded:
                    needed.Add(StringAt(value));
                    break;
                case DtSoname:
                    SoName = StringAt(value);
                    break;
                case DtRpath:
                    RPath = SplitPath(StringAt(value));
                    break;
                case DtRunpath:
                    RunPath = SplitPath(StringAt(value));
                    break;
            }
        }
        Needed = needed;
    }

    private ulong AddressToOffset(ulong address)
    {
        foreach (var segment in _segments)
        {
            if (segment.Type == PtLoad && address >= segment.VirtualAddress && address - segment.VirtualAddress < segment.FileSize)
            {
                return segment.Offset + (address - segment.VirtualAddress);
            }
        }
        throw new ElfFormatException(_name, $"address 0x{address:x} is in no PT_LOAD segment");
    }

    private (uint NameOffset, uint Type, ulong Offset, ulong Size, uint Link) Section(ulong tableOffset, int entrySize, ulong index)
    {
        ulong at = tableOffset + index * (ulong)entrySize;
        Require(at, (ulong)entrySize, "section header");
        int p = checked((int)at);
        return Is64Bit
            ? (U32(p), U32(p + 4), U64(p + 0x18), U64(p + 0x20), U32(p + 0x28))
            : (U32(p), U32(p + 4), U32(p + 0x10), U32(p + 0x14), U32(p + 0x18));
    }

    private static IReadOnlyList<string> SplitPath(string value) => value.Split(':', StringSplitOptions.RemoveEmptyEntries);

    private static string ReadString(ReadOnlySpan<byte> bytes, int start)
    {
        ReadOnlySpan<byte> rest = bytes[start..];
        int end = rest.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? rest : rest[..end]);
    }

    private ReadOnlyMemory<byte> Slice(ulong offset, ulong size, string what)
    {
        Require(offset, size, what);
        return _data.AsMemory((int)offset, (int)size);
    }

    private void Require(ulong offset, ulong size, string what)
    {
        if (offset > (ulong)_data.Length || size > (ulong)_data.Length - offset)
        {
            throw new ElfFormatException(_name, $"{what} at offset {offset} ({size} bytes) runs past the end of the file ({_data.Length} bytes)");
        }
    }

    private ushort U16(int offset) => IsLittleEndian
        ? BinaryPrimitives.ReadUInt16LittleEndian(_data.AsSpan(offset))
        : BinaryPrimitives.ReadUInt16BigEndian(_data.AsSpan(offset));

    private uint U32(int offset) => IsLittleEndian
        ? BinaryPrimitives.ReadUInt32LittleEndian(_data.AsSpan(offset))
        : BinaryPrimitives.ReadUInt32BigEndian(_data.AsSpan(offset));

    private ulong U64(int offset) => IsLittleEndian
        ? BinaryPrimitives.ReadUInt64LittleEndian(_data.AsSpan(offset))
        : BinaryPrimitives.ReadUInt64BigEndian(_data.AsSpan(offset));
}
