// The guest image is Linux-only (unix modes, device nodes, ELF, Debian tools).
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
