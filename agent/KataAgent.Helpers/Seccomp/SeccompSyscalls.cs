using System.Collections.Frozen;

namespace KataAgent.Helpers.Seccomp;

/// <summary>
/// Syscall name to number, per ABI. Tables exist for <see cref="SeccompArchitecture.X86_64"/>,
/// <see cref="SeccompArchitecture.X32"/> (numbers include the 0x40000000 x32 bit),
/// <see cref="SeccompArchitecture.X86"/> and <see cref="SeccompArchitecture.Aarch64"/>.
/// </summary>
public static class SeccompSyscalls
{
    private static readonly FrozenDictionary<string, uint> X86_64 = Build(SyscallTableX86_64.Entries);
    private static readonly FrozenDictionary<string, uint> X32 = Build(SyscallTableX32.Entries);
    private static readonly FrozenDictionary<string, uint> I386 = Build(SyscallTableI386.Entries);
    private static readonly FrozenDictionary<string, uint> Aarch64 = Build(SyscallTableAarch64.Entries);

    /// <summary>True when the compiler has a syscall table for <paramref name="abi"/>.</summary>
    public static bool HasTable(SeccompArchitecture abi) => Table(abi) is not null;

    /// <summary>The number of <paramref name="name"/> on <paramref name="abi"/>; false when unknown there.</summary>
    public static bool TryGetNumber(SeccompArchitecture abi, string name, out uint number)
    {
        number = 0;
        return Table(abi) is { } table && table.TryGetValue(name, out number);
    }

    /// <summary>Every syscall name of <paramref name="abi"/> (empty without a table).</summary>
    public static IReadOnlyCollection<string> GetNames(SeccompArchitecture abi) =>
        Table(abi)?.Keys ?? (IReadOnlyCollection<string>)Array.Empty<string>();

    private static FrozenDictionary<string, uint>? Table(SeccompArchitecture abi) => abi switch
    {
        SeccompArchitecture.X86_64 => X86_64,
        SeccompArchitecture.X32 => X32,
        SeccompArchitecture.X86 => I386,
        SeccompArchitecture.Aarch64 => Aarch64,
        _ => null,
    };

    private static FrozenDictionary<string, uint> Build((string Name, uint Number)[] entries)
    {
        var map = new Dictionary<string, uint>(entries.Length, StringComparer.Ordinal);
        foreach (var (name, number) in entries)
        {
            map.Add(name, number);
        }
        return map.ToFrozenDictionary(StringComparer.Ordinal);
    }
}
