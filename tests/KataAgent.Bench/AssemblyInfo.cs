// The benchmarks run the agent, crun and qemu: Linux only (and the rootfs library they use says so).
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
