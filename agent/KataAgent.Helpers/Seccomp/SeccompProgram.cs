using System.Runtime.InteropServices;

namespace KataAgent.Helpers.Seccomp;

/// <summary>
/// A compiled filter: the struct sock_filter array (8 bytes per instruction, native endian)
/// plus the seccomp(2) flags, ready for <see cref="SeccompInstaller"/>. Immutable, so one
/// program can be compiled early and installed later without further work.
/// </summary>
public sealed class SeccompProgram
{
    private readonly byte[] _bytes;

    internal SeccompProgram(
        SockFilter[] instructions,
        SeccompFilterFlags flags,
        SeccompArchitecture architecture,
        IReadOnlyList<SeccompArchitecture> abis,
        IReadOnlyList<string> unknownSyscalls,
        bool isNative)
    {
        _bytes = MemoryMarshal.AsBytes(instructions.AsSpan()).ToArray();
        Flags = flags;
        Architecture = architecture;
        Abis = abis;
        UnknownSyscalls = unknownSyscalls;
        IsNative = isNative;
    }

    /// <summary>The program as struct sock_filter bytes; the length is 8 * <see cref="InstructionCount"/>.</summary>
    public ReadOnlySpan<byte> Bytes => _bytes;

    /// <summary>The program as instructions (a view of <see cref="Bytes"/>).</summary>
    public ReadOnlySpan<SockFilter> Instructions => MemoryMarshal.Cast<byte, SockFilter>(_bytes);

    /// <summary>Number of instructions, at most BPF_MAXINSNS (4096); sock_fprog.len.</summary>
    public int InstructionCount => _bytes.Length / 8;

    /// <summary>Flags for seccomp(SECCOMP_SET_MODE_FILTER, flags, prog).</summary>
    public SeccompFilterFlags Flags { get; }

    /// <summary>The machine the program was compiled for (x86_64 or aarch64).</summary>
    public SeccompArchitecture Architecture { get; }

    /// <summary>The ABIs the program admits, native first; any other audit arch gets KILL_PROCESS.</summary>
    public IReadOnlyList<SeccompArchitecture> Abis { get; }

    /// <summary>Profile syscall names the native table does not know, skipped (newer or foreign calls).</summary>
    public IReadOnlyList<string> UnknownSyscalls { get; }

    /// <summary>A copy of <see cref="Bytes"/>.</summary>
    public byte[] ToArray() => (byte[])_bytes.Clone();

    /// <summary>True when compiled for the machine this process runs on, so it can be installed here.</summary>
    internal bool IsNative { get; }

    /// <summary>The program buffer itself, for the installer to pin.</summary>
    internal byte[] Buffer => _bytes;
}
