using KataAgent.Linux.Interop;
using KataAgent.Linux.Terminals;

namespace KataAgent.Kactl;

/// <summary>
/// kactl's own terminal: is an fd a terminal, how big is it, and raw mode for <c>--tty</c>
/// (no echo, no line editing, no signals from ^C: every key goes to the container's terminal,
/// which does those things itself). Disposing restores the settings saved before.
/// </summary>
public sealed unsafe class LocalTerminal : IDisposable
{
    /// <summary>TIOCGWINSZ: get a terminal's window size (asm-generic/ioctls.h).</summary>
    private const ulong TIOCGWINSZ = 0x5413;

    /// <summary>TCSADRAIN: apply once pending output is written.</summary>
    private const int TCSADRAIN = 1;

    private readonly int _fd;
    private readonly byte[] _saved;
    private int _restored;

    private LocalTerminal(int fd, byte[] saved)
    {
        _fd = fd;
        _saved = saved;
    }

    /// <summary>True if <paramref name="fd"/> is a terminal.</summary>
    public static bool IsTerminal(int fd) => PseudoTerminal.IsTerminal(fd);

    /// <summary>The window size of the terminal on stdin, else stdout, else stderr; null when none of them is a terminal (or it reports 0×0).</summary>
    public static (ushort Rows, ushort Columns)? Size()
    {
        foreach (int fd in new[] { 0, 1, 2 })
        {
            if (IsTerminal(fd) && Size(fd) is { } size)
            {
                return size;
            }
        }
        return null;
    }

    /// <summary>The window size of the terminal behind <paramref name="fd"/>; null when unknown.</summary>
    public static (ushort Rows, ushort Columns)? Size(int fd)
    {
        // struct winsize { unsigned short ws_row, ws_col, ws_xpixel, ws_ypixel; }
        ushort* size = stackalloc ushort[4];
        if (Libc.Ioctl(fd, TIOCGWINSZ, size) != 0 || (size[0] == 0 && size[1] == 0))
        {
            return null;
        }
        return (size[0], size[1]);
    }

    /// <summary>Puts the terminal behind <paramref name="fd"/> in raw mode; dispose the result to restore it.</summary>
    /// <exception cref="LinuxException">tcgetattr or tcsetattr failed (e.g. not a terminal).</exception>
    public static LocalTerminal MakeRaw(int fd)
    {
        byte[] saved = new byte[Libc.TermiosSize];
        fixed (byte* termios = saved)
        {
            Libc.Check(Libc.TcGetAttr(fd, termios), "tcgetattr");
        }
        PseudoTerminal.MakeRaw(fd);
        return new LocalTerminal(fd, saved);
    }

    /// <summary>Restores the settings saved by <see cref="MakeRaw"/> (once).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _restored, 1) != 0)
        {
            return;
        }
        fixed (byte* termios = _saved)
        {
            _ = Libc.TcSetAttr(_fd, TCSADRAIN, termios);
        }
    }
}
