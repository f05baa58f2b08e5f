namespace KataAgent.Rootfs.Elf;

/// <summary>A file is not ELF, or its headers point outside the file.</summary>
public sealed class ElfFormatException(string fileName, string problem)
    : Exception($"{fileName}: {problem}")
{
    /// <summary>The file that could not be parsed.</summary>
    public string FileName { get; } = fileName;
}
