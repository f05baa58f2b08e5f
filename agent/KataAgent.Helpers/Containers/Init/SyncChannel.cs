using System.Text;
using KataAgent.Linux.Interop;

namespace KataAgent.Helpers.Containers.Init;

/// <summary>
/// The helper's side of the agent↔init socketpair (SOCK_SEQPACKET, fd 3): one message per
/// datagram. Raw read/write only: the helper may run where no thread can be started.
/// </summary>
internal static unsafe class SyncChannel
{
    public const int Fd = 3;
    public const int ConfigFd = 4;

    public static void Send(string message)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(message);
        fixed (byte* p = bytes)
        {
            while (Libc.Write(Fd, p, (nuint)bytes.Length) < 0)
            {
                var error = LinuxException.FromLastError("write sync socket");
                if (error.Errno != Errno.EINTR)
                {
                    throw error;
                }
            }
        }
    }

    /// <summary>Blocks for the next message; null when the agent closed its end.</summary>
    public static string? Receive()
    {
        byte* buffer = stackalloc byte[4096];
        while (true)
        {
            nint n = Libc.Read(Fd, buffer, 4096);
            if (n > 0)
            {
                return Encoding.UTF8.GetString(buffer, (int)n);
            }
            if (n == 0)
            {
                return null;
            }
            var error = LinuxException.FromLastError("read sync socket");
            if (error.Errno != Errno.EINTR)
            {
                throw error;
            }
        }
    }

    /// <summary>Waits for <paramref name="expected"/>; anything else (or EOF) aborts the helper.</summary>
    public static void Expect(string expected)
    {
        string? message = Receive();
        if (message != expected)
        {
            throw new InitException($"expected '{expected}' from the agent, got {(message is null ? "end of stream" : $"'{message}'")}");
        }
    }

    public static InitConfig ReadConfig()
    {
        var bytes = new List<byte>(8192);
        byte* buffer = stackalloc byte[8192];
        long offset = 0;
        while (true)
        {
            nint n = Libc.PRead(ConfigFd, buffer, 8192, offset);
            if (n < 0)
            {
                throw LinuxException.FromLastError("read init config");
            }
            if (n == 0)
            {
                break;
            }
            bytes.AddRange(new ReadOnlySpan<byte>(buffer, (int)n).ToArray());
            offset += n;
        }
        return System.Text.Json.JsonSerializer.Deserialize(bytes.ToArray(), InitConfigJsonContext.Default.InitConfig)
            ?? throw new InitException("empty init config");
    }
}
