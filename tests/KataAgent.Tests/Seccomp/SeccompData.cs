namespace KataAgent.Tests.Seccomp;

/// <summary>
/// struct seccomp_data { int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]; }, as the
/// kernel lays it out for the filter (64 bytes, little endian), read by 32-bit word offset.
/// </summary>
internal readonly record struct SeccompData(uint Nr, uint Arch, ulong[] Args, ulong InstructionPointer = 0)
{
    public const int Size = 64;

    public static SeccompData Of(uint arch, uint nr, params ulong[] args)
    {
        var all = new ulong[6];
        args.CopyTo(all, 0);
        return new SeccompData(nr, arch, all);
    }

    /// <summary>The 32-bit word at <paramref name="offset"/>; the caller has checked alignment and range.</summary>
    public uint Word(uint offset) => offset switch
    {
        0 => Nr,
        4 => Arch,
        8 => (uint)InstructionPointer,
        12 => (uint)(InstructionPointer >> 32),
        _ => (offset - 16) % 8 == 0
            ? (uint)Args[(offset - 16) / 8]
            : (uint)(Args[(offset - 20) / 8] >> 32),
    };
}
