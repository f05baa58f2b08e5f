using System.Text;

namespace KataAgent.Host.VhostUser;

/// <summary>The spec's names of requests (<c>VHOST_USER_SET_VRING_NUM</c> without the prefix), for log lines qemu's docs can be searched for.</summary>
internal static class VhostUserRequestNames
{
    /// <summary>"SET_VRING_NUM" for <see cref="VhostUserRequest.SetVringNum"/>; "unknown" for an id the spec had not named in qemu 7.2.</summary>
    public static string Name(this VhostUserRequest request)
    {
        if (!Enum.IsDefined(request) || request == VhostUserRequest.None)
        {
            return "unknown";
        }
        string pascal = request.ToString();
        var name = new StringBuilder(pascal.Length + 4);
        for (int i = 0; i < pascal.Length; i++)
        {
            if (i > 0 && char.IsUpper(pascal[i]))
            {
                name.Append('_');
            }
            name.Append(char.ToUpperInvariant(pascal[i]));
        }
        return name.ToString();
    }
}
