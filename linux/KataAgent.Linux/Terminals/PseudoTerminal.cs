using System.Text;
using KataAgent.Linux.Interop;

namespace KataAgent.Linux.Terminals;

/// <summary>A pty pair: the master fd (owned) and the path of its slave.</summary>
internal sealed unsafe class PseudoTerminal : IDisposable
{
    private PseudoTerminal(SafeFileDescriptor master, string slavePath)
    {
        Master = master;
        SlavePath = slavePath;
    }

    /// <summary>The master side; invalid once released, closed once disposed.</summary>
    public SafeFileDescriptor Master { get; }

    /// <summary>/dev/pts/N.</summary>
    public string SlavePath { get; }

    /// <summary>Opens a new pty pair (posix_openpt, grantpt, unlockpt).</summary>
    public static PseudoTerminal Open()
    {
        var master = SafeFileDescriptor.Check(Libc.PosixOpenPt(Libc.O_RDWR | Libc.O_NOCTTY | Libc.O_CLOEXEC), "posix_openpt");
        try
        {
            int fd = (int)master.DangerousGetHandle();
            Libc.Check(Libc.GrantPt(fd), "grantpt");
            Libc.Check(Libc.UnlockPt(fd), "unlockpt");
            byte* name = stackalloc byte[256];
            int error = Libc.PtsNameR(fd, name, 256);
            if (error != 0)
            {
                throw new LinuxException("ptsname_r", error);
            }
            return new PseudoTerminal(master, Encoding.UTF8.GetString(name, IndexOfNul(name)));
        }
        catch
        {
            master.Dispose();
            throw;
        }
    }

    /// <summary>Transfers ownership of the master fd to the caller.</summary>
    public int ReleaseMaster() => Master.Detach();

    /// <summary>Puts the terminal behind <paramref name="fd"/> in raw mode: no echo, no line editing, no CR/LF mapping.</summary>
    public static void MakeRaw(int fd)
    {
        byte* termios = stackalloc byte[Libc.TermiosSize];
        Libc.Check(Libc.TcGetAttr(fd, termios), "tcgetattr");
        Libc.CfMakeRaw(termios);
        Libc.Check(Libc.TcSetAttr(fd, Libc.TCSANOW, termios), "tcsetattr");
    }

    /// <summary>Sets the window size of the terminal behind <paramref name="fd"/> (TIOCSWINSZ); 0×0 leaves it as it is.</summary>
    public static void SetWindowSize(int fd, ushort rows, ushort columns)
    {
        if (rows == 0 && columns == 0)
        {
            return;
        }
        // struct winsize { unsigned short ws_row, ws_col, ws_xpixel, ws_ypixel; }
        ushort* size = stackalloc ushort[4];
        size[0] = rows;
        size[1] = columns;
        size[2] = 0;
        size[3] = 0;
        Libc.Check(Libc.Ioctl(fd, Libc.TIOCSWINSZ, size), "ioctl(TIOCSWINSZ)");
    }

    /// <summary>True if <paramref name="fd"/> is a terminal.</summary>
    public static bool IsTerminal(int fd) => Libc.IsATty(fd) == 1;

    public void Dispose() => Master.Dispose();

    private static int IndexOfNul(byte* s)
    {
        int i = 0;
        while (s[i] != 0)
        {
            i++;
        }
        return i;
    }
}
