namespace KataAgent.Host.VhostUser;

/// <summary>The driver put something on a virtqueue that cannot be followed: the queue is broken until the device is reset.</summary>
internal sealed class VirtqueueException(string message) : Exception(message);
