using KataAgent.Agent.Errors;
using KataAgent.Agent.Interop;
using KataAgent.Linux.Interop;

namespace KataAgent.Agent.Files;

/// <summary>
/// Opens the directories of a CopyFile path one component at a time, each relative to the fd of the one
/// before with O_NOFOLLOW, so a symlink on disk (planted before the call or swapped in during it) is never
/// followed out of the allowed tree: it is refused. Missing directories are created with the request's
/// <c>dir_mode</c> and owner, as Kata creates a copied file's parents.
/// </summary>
internal static class DirectoryWalk
{
    private const int DirectoryFlags = Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC;

    /// <summary>The allowed root itself, created if missing. It is the agent's own directory, so a symlink in
    /// its own path is the guest image's choice and is followed.</summary>
    public static SafeFileDescriptor OpenRoot(string root)
    {
        Directory.CreateDirectory(root);
        return SafeFileDescriptor.Check(Libc.Open(root, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC), $"open {root}");
    }

    /// <summary>
    /// The directory <paramref name="root"/>/<paramref name="components"/>, creating what is missing with
    /// <paramref name="mode"/> and <paramref name="uid"/>:<paramref name="gid"/> when <paramref name="create"/>;
    /// null when something is missing and <paramref name="create"/> is false.
    /// </summary>
    public static SafeFileDescriptor? Open(SafeFileDescriptor root, string rootPath, IEnumerable<string> components, bool create, uint mode, uint uid, uint gid)
    {
        var current = new SafeFileDescriptor((int)root.DangerousGetHandle(), ownsHandle: false);
        string walked = rootPath;
        try
        {
            foreach (string name in components)
            {
                walked = $"{walked}/{name}";
                int fd = AgentLibc.OpenAt((int)current.DangerousGetHandle(), name, DirectoryFlags, 0);
                bool created = false;
                if (fd < 0 && Errno(out int errno) == Linux.Interop.Errno.ENOENT)
                {
                    if (!create)
                    {
                        current.Dispose();
                        return null;
                    }
                    // EEXIST: a concurrent creator won the race; the open below checks what it made.
                    created = AgentLibc.MkDirAt((int)current.DangerousGetHandle(), name, mode) == 0;
                    if (!created && Errno(out errno) != Linux.Interop.Errno.EEXIST)
                    {
                        throw new LinuxException($"mkdir {walked}", errno);
                    }
                    fd = AgentLibc.OpenAt((int)current.DangerousGetHandle(), name, DirectoryFlags, 0);
                }
                if (fd < 0)
                {
                    errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                    throw errno is Linux.Interop.Errno.ELOOP or Linux.Interop.Errno.ENOTDIR
                        ? AgentException.InvalidArgument("path", $"{walked} is a symbolic link or not a directory; CopyFile follows no links")
                        : new LinuxException($"open {walked}", errno);
                }
                var next = new SafeFileDescriptor(fd);
                current.Dispose();
                current = next;
                if (created)
                {
                    // chown before chmod: chown clears the set-id bits a dir_mode may ask for. mkdirat's mode passed the umask.
                    Libc.Check(AgentLibc.FChown(fd, uid, gid), $"chown {walked}");
                    Libc.Check(AgentLibc.FChmod(fd, mode), $"chmod {walked}");
                }
            }
            return current;
        }
        catch
        {
            current.Dispose();
            throw;
        }
    }

    private static int Errno(out int errno)
    {
        errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
        return errno;
    }
}
