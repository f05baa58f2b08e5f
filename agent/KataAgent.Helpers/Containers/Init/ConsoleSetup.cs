using System.Text;
using KataAgent.Linux.Interop;
using KataAgent.Helpers.IO;
using KataAgent.Linux.Terminals;

namespace KataAgent.Helpers.Containers.Init;

/// <summary>
/// The container's terminal is made inside the container, from its own /dev/ptmx, so the slave
/// is a /dev/pts/N the workload can name (tty, ttyname) — a pty of the agent's devpts would not
/// exist in the container. The slave becomes stdio; the master goes to the agent over the sync
/// socket, as runc's console socket does.
/// </summary>
internal static class ConsoleSetup
{
    public static void CreateAndSend(InitConfig config)
    {
        using var pty = PseudoTerminal.Open();
        PseudoTerminal.SetWindowSize((int)pty.Master.DangerousGetHandle(), config.ConsoleRows, config.ConsoleColumns);
        int slave = Libc.Open(pty.SlavePath, Libc.O_RDWR | Libc.O_NOCTTY | Libc.O_CLOEXEC);
        if (slave < 0)
        {
            throw LinuxException.FromLastError($"open the container's terminal {pty.SlavePath}");
        }
        for (int fd = 0; fd <= 2; fd++)
        {
            Libc.Check(Libc.Dup2(slave, fd), $"dup2 the terminal onto fd {fd}");
        }
        Libc.Close(slave);
        FdPassing.Send(SyncChannel.Fd, Encoding.UTF8.GetBytes("console"), (int)pty.Master.DangerousGetHandle());
    }
}
