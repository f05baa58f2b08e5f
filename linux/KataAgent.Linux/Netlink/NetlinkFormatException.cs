namespace KataAgent.Linux.Netlink;

/// <summary>
/// Bytes that are not a well-formed netlink message or attribute (truncated, a length that runs
/// past its container, a value of the wrong size). Raised by the decoder, never by the kernel.
/// </summary>
internal sealed class NetlinkFormatException(string message) : FormatException(message);
