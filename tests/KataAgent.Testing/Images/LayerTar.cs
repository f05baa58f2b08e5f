using System.Formats.Tar;
using System.Text;

namespace KataAgent.Testing.Images;

/// <summary>
/// A layer tar written entry by entry with <see cref="TarWriter"/> (PAX): what umoci would never write, such as
/// the escape attempts (<c>../x</c>, absolute names, writes through symlinks, hardlinks to outside).
/// </summary>
public sealed class LayerTar
{
    private readonly MemoryStream _stream = new();
    private readonly TarWriter _writer;

    /// <summary>An empty tar.</summary>
    public LayerTar() => _writer = new TarWriter(_stream, TarEntryFormat.Pax, leaveOpen: true);

    /// <summary>Adds a directory.</summary>
    public LayerTar Directory(string name, int mode = 0x1ED, int uid = 0, int gid = 0) =>
        Add(new PaxTarEntry(TarEntryType.Directory, name) { Mode = (UnixFileMode)mode, Uid = uid, Gid = gid });

    /// <summary>Adds a regular file.</summary>
    public LayerTar File(string name, string content, int mode = 0x1A4, int uid = 0, int gid = 0, IDictionary<string, string>? pax = null)
    {
        var entry = new PaxTarEntry(TarEntryType.RegularFile, name, pax ?? new Dictionary<string, string>())
        {
            Mode = (UnixFileMode)mode,
            Uid = uid,
            Gid = gid,
            DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)),
        };
        return Add(entry);
    }

    /// <summary>Adds a symlink.</summary>
    public LayerTar Symlink(string name, string target) =>
        Add(new PaxTarEntry(TarEntryType.SymbolicLink, name) { LinkName = target, Mode = (UnixFileMode)0x1FF });

    /// <summary>Adds a hardlink.</summary>
    public LayerTar HardLink(string name, string target) =>
        Add(new PaxTarEntry(TarEntryType.HardLink, name) { LinkName = target, Mode = (UnixFileMode)0x1A4 });

    /// <summary>Adds a fifo.</summary>
    public LayerTar Fifo(string name, int mode = 0x1A4) =>
        Add(new PaxTarEntry(TarEntryType.Fifo, name) { Mode = (UnixFileMode)mode });

    /// <summary>Adds a whiteout of <paramref name="hidden"/> (a path).</summary>
    public LayerTar Whiteout(string hidden)
    {
        string directory = Path.GetDirectoryName(hidden) ?? "";
        string name = Path.GetFileName(hidden);
        return Add(new PaxTarEntry(TarEntryType.RegularFile, Path.Combine(directory, ".wh." + name)) { Mode = 0 });
    }

    /// <summary>Adds the opaque marker of <paramref name="directory"/>.</summary>
    public LayerTar Opaque(string directory) =>
        Add(new PaxTarEntry(TarEntryType.RegularFile, Path.Combine(directory, ".wh..wh..opq")) { Mode = 0 });

    /// <summary>Adds any entry.</summary>
    public LayerTar Add(TarEntry entry)
    {
        entry.ModificationTime = new DateTimeOffset(2020, 1, 2, 3, 4, 5, TimeSpan.Zero);
        _writer.WriteEntry(entry);
        return this;
    }

    /// <summary>The archive's bytes (the end-of-archive blocks written).</summary>
    public byte[] ToArray()
    {
        _writer.Dispose();
        return _stream.ToArray();
    }
}
