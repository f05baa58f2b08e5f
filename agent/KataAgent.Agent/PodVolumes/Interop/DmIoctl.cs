using System.Runtime.InteropServices;
using KataAgent.Linux.Interop;

namespace KataAgent.Agent.PodVolumes.Interop;

/// <summary>
/// The device-mapper ioctl interface on /dev/mapper/control (linux/dm-ioctl.h, interface version 4): every command
/// takes a <c>struct dm_ioctl</c> (312 bytes) followed by its data, here one <c>struct dm_target_spec</c> (40 bytes)
/// and its parameter string. Buffers are native memory, zeroed before they are freed, because a crypt table's
/// parameters hold the key.
/// </summary>
internal static unsafe class DmIoctl
{
    /// <summary>sizeof(struct dm_ioctl).</summary>
    public const int HeaderSize = 312;

    /// <summary>sizeof(struct dm_target_spec).</summary>
    public const int TargetSpecSize = 40;

    /// <summary>DM_NAME_LEN: the name and its NUL.</summary>
    public const int NameLength = 128;

    public const int DevCreate = 3;
    public const int DevRemove = 4;
    public const int DevSuspend = 6;
    public const int DevStatus = 7;
    public const int TableLoad = 9;

    public const uint ReadOnlyFlag = 1 << 0;

    /// <summary>DM_SECURE_DATA_FLAG: the kernel wipes its copies of this ioctl's buffer (the table holds the key).</summary>
    public const uint SecureDataFlag = 1 << 15;

    /// <summary>DM_DEFERRED_REMOVE: remove the device when its last opener closes it.</summary>
    public const uint DeferredRemoveFlag = 1 << 17;

    private const int DataSizeOffset = 12;
    private const int DataStartOffset = 16;
    private const int TargetCountOffset = 20;
    private const int FlagsOffset = 28;
    private const int DevOffset = 40;
    private const int NameOffset = 48;

    /// <summary>_IOWR(0xfd, command, struct dm_ioctl).</summary>
    public static ulong Request(int command) => 0xC0000000UL | ((ulong)HeaderSize << 16) | (0xFDUL << 8) | (ulong)command;

    /// <summary>
    /// Runs <paramref name="command"/> on device <paramref name="name"/>; <paramref name="target"/> adds one target
    /// (type, length in sectors, parameters as bytes). Returns the device number the kernel reports (dm_ioctl.dev,
    /// huge_encode_dev) or throws <see cref="LinuxException"/>.
    /// </summary>
    public static (int Major, int Minor) Run(int control, int command, string name, uint flags, (string Type, ulong Sectors, ReadOnlyMemory<byte> Parameters)? target = null)
    {
        int dataSize = HeaderSize;
        if (target is { } t)
        {
            dataSize += Align8(TargetSpecSize + t.Parameters.Length + 1);
        }
        byte* buffer = (byte*)NativeMemory.AllocZeroed((nuint)dataSize);
        try
        {
            *(uint*)buffer = 4;
            *(uint*)(buffer + DataSizeOffset) = (uint)dataSize;
            *(uint*)(buffer + DataStartOffset) = HeaderSize;
            *(uint*)(buffer + FlagsOffset) = flags;
            WriteAscii(buffer + NameOffset, NameLength, name);
            if (target is { } spec)
            {
                *(uint*)(buffer + TargetCountOffset) = 1;
                byte* s = buffer + HeaderSize;
                *(ulong*)s = 0;
                *(ulong*)(s + 8) = spec.Sectors;
                *(uint*)(s + 20) = (uint)(dataSize - HeaderSize);
                WriteAscii(s + 24, 16, spec.Type);
                spec.Parameters.Span.CopyTo(new Span<byte>(s + TargetSpecSize, spec.Parameters.Length));
            }
            if (Libc.Ioctl(control, Request(command), buffer) != 0)
            {
                throw LinuxException.FromLastError($"device-mapper {CommandName(command)} {name}");
            }
            ulong dev = *(ulong*)(buffer + DevOffset);
            return ((int)((dev & 0xfff00) >> 8), (int)((dev & 0xff) | ((dev >> 12) & 0xfff00)));
        }
        finally
        {
            NativeMemory.Clear(buffer, (nuint)dataSize);
            NativeMemory.Free(buffer);
        }
    }

    private static string CommandName(int command) => command switch
    {
        DevCreate => "DM_DEV_CREATE",
        DevRemove => "DM_DEV_REMOVE",
        DevSuspend => "DM_DEV_SUSPEND",
        DevStatus => "DM_DEV_STATUS",
        TableLoad => "DM_TABLE_LOAD",
        _ => $"command {command}",
    };

    private static int Align8(int value) => (value + 7) & ~7;

    private static void WriteAscii(byte* destination, int capacity, string text)
    {
        if (text.Length >= capacity)
        {
            throw new ArgumentException($"'{text}' is longer than {capacity - 1} bytes", nameof(text));
        }
        for (int i = 0; i < text.Length; i++)
        {
            destination[i] = (byte)text[i];
        }
    }
}
