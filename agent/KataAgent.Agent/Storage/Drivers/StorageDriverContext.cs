using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Storage.Drivers;

/// <summary>What drivers need from the guest: the block device lookup, how long a hot-plug may take, a logger.</summary>
/// <param name="BlockDevices">Finds a virtio-blk disk by its PCI path.</param>
/// <param name="HotplugTimeout">How long a device may take to appear.</param>
/// <param name="Logger">Where mounts are logged.</param>
internal sealed record StorageDriverContext(BlockDeviceLocator BlockDevices, TimeSpan HotplugTimeout, ILogger Logger);
