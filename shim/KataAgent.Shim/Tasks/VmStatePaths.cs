using System.Security.Cryptography;
using System.Text;

namespace KataAgent.Shim.Tasks;

/// <summary>
/// Where a pod's VM keeps its state: <c>stateRoot/&lt;16 hex digits&gt;</c>, a hash of the namespace and the sandbox id.
/// A short name keeps the unix sockets qemu and virtiofsd make there under the 108-byte limit, and the namespace in
/// the hash keeps two containerd namespaces (or two containerds) with the same sandbox id apart.
/// </summary>
internal static class VmStatePaths
{
    public static string For(string stateRoot, string @namespace, string sandboxId)
    {
        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes(@namespace + "/" + sandboxId));
        return Path.Combine(stateRoot, Convert.ToHexStringLower(hash.AsSpan(0, 8)));
    }
}
