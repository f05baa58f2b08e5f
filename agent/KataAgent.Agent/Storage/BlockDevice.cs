namespace KataAgent.Agent.Storage;

/// <summary>A block device found in sysfs: its kernel name (vda), device number and device node.</summary>
public sealed record BlockDevice(string Name, int Major, int Minor, string DevicePath);
