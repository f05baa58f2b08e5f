namespace KataAgent.Rootfs.Elf;

/// <summary>A <c>DT_NEEDED</c> library (or the interpreter) was not found in any search directory.</summary>
public sealed class SharedLibraryNotFoundException(string binary, IReadOnlyList<string> missing, IReadOnlyList<string> searched)
    : Exception($"{binary} needs {string.Join(", ", missing)}, not found in {string.Join(", ", searched)}")
{
    /// <summary>The binary whose dependencies were resolved.</summary>
    public string Binary { get; } = binary;

    /// <summary>Each missing name, with the object that needs it (<c>libfoo.so.1 (needed by /usr/lib/libbar.so)</c>).</summary>
    public IReadOnlyList<string> Missing { get; } = missing;
}
