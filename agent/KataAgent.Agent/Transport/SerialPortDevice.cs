using KataAgent.Linux.Addressing;
using KataAgent.Linux.Interop;
using KataAgent.Linux.Terminals;

namespace KataAgent.Agent.Transport;

/// <summary>
/// Opens a virtio-serial port (by device path or by port name) when it exists and its host end is
/// connected. A port whose host end is closed opens fine but reads EOF and polls POLLHUP; a terminal
/// standing in for a port (an hvc console, a pty in tests) is put in raw mode so bytes pass untouched.
/// Used by the API server, the debug console and the log channel.
/// </summary>
public static class SerialPortDevice
{
    /// <summary>The port's device node, or null (with the reason) when no port has that name (yet).</summary>
    public static string? Resolve(AgentAddress address, out string? problem)
    {
        string? path = address.Path ?? SerialPortResolver.Resolve(address.SerialPortName!);
        problem = path is null ? $"no virtio-serial port named '{address.SerialPortName}' yet" : null;
        return path;
    }

    /// <summary>
    /// An fd (O_NONBLOCK, CLOEXEC) for the port, or -1 with the reason. With
    /// <paramref name="requireHost"/> a port whose host end is not connected counts as not there.
    /// </summary>
    public static unsafe int TryOpen(AgentAddress address, bool requireHost, out string? problem)
    {
        string? path = Resolve(address, out problem);
        if (path is null)
        {
            return -1;
        }
        int fd = Libc.Open(path, Libc.O_RDWR | Libc.O_NOCTTY | Libc.O_CLOEXEC | Libc.O_NONBLOCK);
        if (fd < 0)
        {
            problem = LinuxException.FromLastError($"open {path}").Message;
            return -1;
        }
        try
        {
            if (PseudoTerminal.IsTerminal(fd))
            {
                PseudoTerminal.MakeRaw(fd);
            }
            if (requireHost)
            {
                var poll = new Libc.PollFd { Fd = fd, Events = Libc.POLLIN };
                int ready = Libc.Poll(&poll, 1, 0);
                if (ready > 0 && (poll.Revents & Libc.POLLHUP) != 0 && (poll.Revents & Libc.POLLIN) == 0)
                {
                    problem = $"{path}: host side not connected";
                    Libc.Close(fd);
                    return -1;
                }
            }
            problem = null;
            return fd;
        }
        catch (LinuxException e)
        {
            problem = e.Message;
            Libc.Close(fd);
            return -1;
        }
    }
}
