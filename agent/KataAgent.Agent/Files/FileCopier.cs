using System.Security.Cryptography;
using System.Text;
using KataAgent.Agent.Errors;
using KataAgent.Agent.Interop;
using KataAgent.Linux.Interop;
using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Guest;

namespace KataAgent.Agent.Files;

/// <summary>
/// CopyFile with Kata's semantics, below <see cref="GuestLayout.RunDirectory"/> only (Kata's CONTAINER_BASE,
/// which holds the sandbox's shared directories). A <c>file_mode</c> of type S_IFDIR makes a directory and
/// S_IFLNK a symlink whose target is <c>data</c>; anything else is a regular file sent in chunks: each written
/// at its <c>offset</c> into a temporary file beside the target, which becomes the target (mode and owner set,
/// renamed into place) when <c>offset</c> + len(<c>data</c>) reaches <c>file_size</c>. A chunk that does not
/// continue the temporary file is refused, and a refused or failed chunk removes the temporary file, so an
/// abandoned copy never leaves one behind unless the host simply stops sending.
/// </summary>
public sealed class FileCopier
{
    private const uint PermissionBits = 0xFFF; // 07777
    private const int TempPrefixBytes = 12; // ".kata-copy.", the dot before the name
    private readonly string _root;

    // Chunks of one file arrive as separate calls; two copies to one path at once would interleave in its temporary file.
    private readonly Lock _lock = new();

    /// <summary>Copies below <paramref name="root"/> (Kata's <c>/run/kata-containers</c> in the agent).</summary>
    public FileCopier(string root = GuestLayout.RunDirectory)
    {
        _root = root.TrimEnd('/');
    }

    /// <summary>Applies one CopyFile request; INVALID_ARGUMENT naming the field for bad input.</summary>
    public void Copy(CopyFileRequest request)
    {
        var components = CopyFilePath.ComponentsBelow(_root, request.Path);
        lock (_lock)
        {
            uint uid, gid;
            int type;
            try
            {
                uid = Owner(request.Uid, "uid");
                gid = Owner(request.Gid, "gid");
                type = FileType(request.FileMode);
                if ((type is 0 or Libc.S_IFREG) && ChunkRefusal(request) is { } refusal)
                {
                    throw refusal;
                }
            }
            catch (AgentException)
            {
                AbandonTemporary(components);
                throw;
            }
            using var root = DirectoryWalk.OpenRoot(_root);
            using var parent = DirectoryWalk.Open(root, _root, components.Take(components.Count - 1), create: true, request.DirMode & PermissionBits, uid, gid)!;
            string name = components[^1];
            switch (type)
            {
                case Libc.S_IFDIR:
                    MakeDirectory(parent, name, request, uid, gid);
                    break;
                case Libc.S_IFLNK:
                    MakeSymlink(parent, name, request, uid, gid);
                    break;
                default:
                    WriteChunk(parent, name, request, uid, gid);
                    break;
            }
        }
    }

    /// <summary>Kata passes uid and gid to chown as u32, so -1 means "leave it"; other negatives are mistakes.</summary>
    private static uint Owner(int id, string field) =>
        id >= -1 ? unchecked((uint)id) : throw AgentException.InvalidArgument(field, $"{id} is negative");

    private static int FileType(uint mode)
    {
        int type = (int)mode & Libc.S_IFMT;
        return type is 0 or Libc.S_IFREG or Libc.S_IFDIR or Libc.S_IFLNK
            ? type
            : throw AgentException.InvalidArgument("file_mode", $"0{Convert.ToString(mode, 8)} is neither a regular file, a directory nor a symlink");
    }

    private static AgentException? ChunkRefusal(CopyFileRequest request)
    {
        if (request.FileSize < 0)
        {
            return AgentException.InvalidArgument("file_size", $"{request.FileSize} is negative");
        }
        if (request.Offset < 0 || request.Offset > request.FileSize)
        {
            return AgentException.InvalidArgument("offset", $"{request.Offset} is not within file_size {request.FileSize}");
        }
        if (request.Offset + request.Data.Length > request.FileSize)
        {
            return AgentException.InvalidArgument("data", $"{request.Data.Length} bytes at offset {request.Offset} run past file_size {request.FileSize}");
        }
        return null;
    }

    private static void MakeDirectory(SafeFileDescriptor parent, string name, CopyFileRequest request, uint uid, uint gid)
    {
        int dirFd = (int)parent.DangerousGetHandle();
        if (AgentLibc.MkDirAt(dirFd, name, request.FileMode & PermissionBits) != 0)
        {
            var error = LinuxException.FromLastError($"mkdir {request.Path}");
            if (error.Errno != Errno.EEXIST)
            {
                throw error;
            }
        }
        // Kata sets the mode and owner on an existing directory too. O_NOFOLLOW: an existing symlink is refused, not followed.
        using var directory = DirectoryWalk.Open(parent, request.Path[..request.Path.LastIndexOf('/')], [name], create: false, 0, 0, 0)!;
        Libc.Check(AgentLibc.FChown((int)directory.DangerousGetHandle(), uid, gid), $"chown {request.Path}");
        Libc.Check(AgentLibc.FChmod((int)directory.DangerousGetHandle(), request.FileMode & PermissionBits), $"chmod {request.Path}");
    }

    private static void MakeSymlink(SafeFileDescriptor parent, string name, CopyFileRequest request, uint uid, uint gid)
    {
        if (request.Data.IsEmpty)
        {
            throw AgentException.InvalidArgument("data", "is empty; for a symlink it holds the link's target");
        }
        string target = request.Data.ToStringUtf8();
        if (target.Contains('\0'))
        {
            throw AgentException.InvalidArgument("data", "the symlink target contains a NUL byte");
        }
        // Made beside the target and renamed over it: Kata replaces an existing link (a Kubernetes volume's
        // "..data" moving to a new timestamped directory); the rename does so in one step.
        int dirFd = (int)parent.DangerousGetHandle();
        string temporary = TemporaryName(name);
        RemoveIfPresent(dirFd, temporary);
        Libc.Check(AgentLibc.SymlinkAt(target, dirFd, temporary), $"symlink {request.Path}");
        try
        {
            Libc.Check(AgentLibc.FChownAt(dirFd, temporary, uid, gid, Libc.AT_SYMLINK_NOFOLLOW), $"lchown {request.Path}");
            Libc.Check(AgentLibc.RenameAt(dirFd, temporary, dirFd, name), $"rename to {request.Path}");
        }
        catch
        {
            RemoveIfPresent(dirFd, temporary);
            throw;
        }
    }

    private static unsafe void WriteChunk(SafeFileDescriptor parent, string name, CopyFileRequest request, uint uid, uint gid)
    {
        int dirFd = (int)parent.DangerousGetHandle();
        string temporary = TemporaryName(name);
        int fd;
        if (request.Offset == 0)
        {
            // A fresh copy: whatever an abandoned one left is dropped, and O_EXCL makes the file ours, not a planted link.
            RemoveIfPresent(dirFd, temporary);
            fd = Libc.Check(AgentLibc.OpenAt(dirFd, temporary, Libc.O_WRONLY | AgentLibc.O_CREAT | AgentLibc.O_EXCL | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0x180), $"create {request.Path}'s temporary file");
        }
        else
        {
            fd = AgentLibc.OpenAt(dirFd, temporary, Libc.O_WRONLY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
            if (fd < 0)
            {
                var error = LinuxException.FromLastError($"open {request.Path}'s temporary file");
                RemoveIfPresent(dirFd, temporary);
                throw error.Errno switch
                {
                    Errno.ENOENT => AgentException.InvalidArgument("offset", $"{request.Offset} continues no copy to {request.Path}: the chunk at offset 0 never came"),
                    Errno.ELOOP => AgentException.InvalidArgument("offset", $"{request.Offset} continues no copy to {request.Path}: its temporary file is a symlink"),
                    _ => error,
                };
            }
        }
        using var file = new SafeFileDescriptor(fd);
        try
        {
            var (type, links, size) = AgentLibc.FStat(fd, $"stat {request.Path}'s temporary file");
            // One link only: a hard link planted under the temporary name would have us write into the file it names.
            if (type != Libc.S_IFREG || links != 1)
            {
                throw AgentException.InvalidArgument("offset", $"{request.Offset} continues no copy to {request.Path}: its temporary file is not one CopyFile made");
            }
            if (size != request.Offset)
            {
                throw AgentException.InvalidArgument("offset", $"{request.Offset} does not continue the {size} bytes already copied to {request.Path}");
            }
            var data = request.Data.Span;
            long offset = request.Offset;
            fixed (byte* bytes = data)
            {
                for (int written = 0; written < data.Length;)
                {
                    nint count = Libc.Check(AgentLibc.PWrite(fd, bytes + written, (nuint)(data.Length - written), offset + written), $"write {request.Path}'s temporary file");
                    written += (int)count;
                }
            }
            if (request.Offset + data.Length == request.FileSize)
            {
                // chown before chmod: chown clears the set-id bits file_mode may ask for.
                Libc.Check(AgentLibc.FChown(fd, uid, gid), $"chown {request.Path}");
                Libc.Check(AgentLibc.FChmod(fd, request.FileMode & PermissionBits), $"chmod {request.Path}");
                Libc.Check(AgentLibc.FSync(fd), $"fsync {request.Path}");
                Libc.Check(AgentLibc.RenameAt(dirFd, temporary, dirFd, name), $"rename to {request.Path}");
            }
        }
        catch
        {
            RemoveIfPresent(dirFd, temporary);
            throw;
        }
    }

    /// <summary>A refused chunk ends its copy: the temporary file goes, if its directory exists (never created here).</summary>
    private void AbandonTemporary(IReadOnlyList<string> components)
    {
        try
        {
            using var root = DirectoryWalk.OpenRoot(_root);
            using var parent = DirectoryWalk.Open(root, _root, components.Take(components.Count - 1), create: false, 0, 0, 0);
            if (parent is not null)
            {
                RemoveIfPresent((int)parent.DangerousGetHandle(), TemporaryName(components[^1]));
            }
        }
        catch (Exception e) when (e is AgentException or IOException or UnauthorizedAccessException)
        {
            // The refusal being answered says what is wrong; a path that cannot be walked has no temporary file of ours.
        }
    }

    private static void RemoveIfPresent(int dirFd, string name)
    {
        if (AgentLibc.UnlinkAt(dirFd, name, 0) != 0)
        {
            var error = LinuxException.FromLastError($"remove {name}");
            if (error.Errno != Errno.ENOENT)
            {
                throw error;
            }
        }
    }

    /// <summary>Hidden and beside the target (so the rename stays on one filesystem); the same for every chunk of one path.
    /// A name too long to prefix is hashed.</summary>
    internal static string TemporaryName(string name) =>
        Encoding.UTF8.GetByteCount(name) + TempPrefixBytes <= 255
            ? $".kata-copy.{name}"
            : $".kata-copy.{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(name)))}";
}
