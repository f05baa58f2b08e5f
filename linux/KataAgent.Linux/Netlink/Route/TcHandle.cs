using KataAgent.Linux.Netlink.Uapi;

namespace KataAgent.Linux.Netlink.Route;

/// <summary>tc handles written as tc(8) does: "ffff:", "1:2", "root", "ingress".</summary>
internal static class TcHandle
{
    public static string Format(uint handle) => handle switch
    {
        LinuxPktSched.TC_H_ROOT => "root",
        LinuxPktSched.TC_H_INGRESS => "ingress",
        LinuxPktSched.TC_H_UNSPEC => "none",
        _ when (handle & LinuxPktSched.TC_H_MIN_MASK) == 0 => $"{handle >> 16:x}:",
        _ => $"{handle >> 16:x}:{handle & LinuxPktSched.TC_H_MIN_MASK:x}",
    };
}
