using KataAgent.Agent.Images;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Storage.Drivers;

/// <summary>What drivers need from the guest: the block device lookup, how long a hot-plug may take, a logger.</summary>
/// <param name="BlockDevices">Finds a virtio-blk disk by its PCI path.</param>
/// <param name="HotplugTimeout">How long a device may take to appear.</param>
/// <param name="Logger">Where mounts are logged.</param>
/// <param name="Images">Guest pull's rootfs directories, or null where the agent runs without them (tests).</param>
internal sealed record StorageDriverContext(BlockDeviceLocator BlockDevices, TimeSpan HotplugTimeout, ILogger Logger, GuestImages? Images = null);
