namespace KataAgent.Host.Network;

/// <summary>How the pod's network namespace is joined to the VM's NIC (Kata's internetworking models, plus passt).</summary>
public enum NetworkModel
{
    /// <summary>A tap per pod interface, with tc ingress filters redirecting every frame between tap and veth (Kata's default).</summary>
    TcFilter,

    /// <summary>A macvtap in bridge mode on each pod interface; the veth gives up its MAC and addresses while the VM runs.</summary>
    Macvtap,

    /// <summary>passt in the pod netns translates the guest's frames to the pod's L4 sockets; no tap, no CAP_NET_ADMIN.</summary>
    Passt,

    /// <summary>No NIC: the VM has no network.</summary>
    None,
}
