namespace KataAgent.Host.Network.Tun;

/// <summary>linux/if_tun.h: the ioctls and flags of /dev/net/tun.</summary>
internal static class LinuxIfTun
{
    /// <summary>_IOW('T', 202, int).</summary>
    public const ulong TUNSETIFF = 0x400454ca;

    /// <summary>_IOW('T', 203, int): 1 keeps the device after its last fd closes.</summary>
    public const ulong TUNSETPERSIST = 0x400454cb;

    /// <summary>_IOR('T', 210, unsigned int): the name and flags of the attached device.</summary>
    public const ulong TUNGETIFF = 0x800454d2;

    public const short IFF_TUN = 0x0001;
    public const short IFF_TAP = 0x0002;
    public const short IFF_MULTI_QUEUE = 0x0100;
    public const short IFF_NO_PI = 0x1000;
    public const short IFF_ONE_QUEUE = 0x2000;
    public const short IFF_VNET_HDR = 0x4000;
    public const short IFF_TUN_EXCL = unchecked((short)0x8000);
}
