namespace KataAgent.Rootfs.Elf;

/// <summary>A shared object an ELF binary needs, as ldd would report it.</summary>
/// <param name="Name">The <c>DT_NEEDED</c> name (e.g. <c>libc.so.6</c>), or the interpreter's path.</param>
/// <param name="Path">Where the loader finds it: the path the image must hold it at (e.g. <c>/lib/x86_64-linux-gnu/libc.so.6</c>).</param>
/// <param name="HostPath">The file to copy on the build host (under the sysroot, symlinks not resolved).</param>
/// <param name="IsInterpreter">Whether this is the program interpreter (<c>PT_INTERP</c>).</param>
public sealed record SharedLibrary(string Name, string Path, string HostPath, bool IsInterpreter = false);
