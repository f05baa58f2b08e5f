using System.Runtime.InteropServices;
using System.Text;

namespace KataAgent.Linux.Interop;

/// <summary>
/// NUL-terminated UTF-8 strings and NULL-terminated string arrays (argv, envp) in native memory,
/// for calls like execve and posix_spawn. Every block is recorded in the caller's allocation list
/// so the caller frees them all with <see cref="Free"/>.
/// </summary>
internal static unsafe class NativeStrings
{
    public static byte* Utf8(string text, List<nint> allocations)
    {
        int length = Encoding.UTF8.GetByteCount(text);
        byte* buffer = (byte*)NativeMemory.Alloc((nuint)length + 1);
        allocations.Add((nint)buffer);
        Encoding.UTF8.GetBytes(text, new Span<byte>(buffer, length));
        buffer[length] = 0;
        return buffer;
    }

    public static byte** Utf8Array(IReadOnlyList<string> items, List<nint> allocations)
    {
        byte** array = (byte**)NativeMemory.Alloc((nuint)(items.Count + 1), (nuint)sizeof(nint));
        allocations.Add((nint)array);
        for (int i = 0; i < items.Count; i++)
        {
            array[i] = Utf8(items[i], allocations);
        }
        array[items.Count] = null;
        return array;
    }

    public static void Free(List<nint> allocations)
    {
        foreach (nint allocation in allocations)
        {
            NativeMemory.Free((void*)allocation);
        }
        allocations.Clear();
    }
}
