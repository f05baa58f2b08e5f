using System.Net;
using System.Text;

namespace KataAgent.Testing.Registry;

public sealed partial class TestRegistry
{
    /// <summary>The namespace, the veth pair and its addresses: a /30 of 10.213.0.0/16 no address of the host's is in.</summary>
    private static TestRegistry CreateNetwork(TestRegistryOptions options, TempDirectory directory)
    {
        string suffix = Guid.NewGuid().ToString("N")[..8];
        string netns = "kreg-" + suffix;
        string hostVeth = "krh" + suffix;
        var taken = HostTools.Run("ip", "-4", "-o", "addr", "show");
        string hostAddress;
        string registryAddress;
        do
        {
            int block = Random.Shared.Next(0, 1 << 14);
            var network = new IPAddress(new byte[] { 10, 213, (byte)(block >> 6), (byte)((block & 63) << 2) }).GetAddressBytes();
            hostAddress = $"{network[0]}.{network[1]}.{network[2]}.{network[3] + 1}";
            registryAddress = $"{network[0]}.{network[1]}.{network[2]}.{network[3] + 2}";
        }
        while (taken.Contains($" {hostAddress}/", StringComparison.Ordinal) || taken.Contains($" {registryAddress}/", StringComparison.Ordinal));

        HostTools.Run("ip", "netns", "add", netns);
        var registry = new TestRegistry(options, directory, netns, hostVeth, hostAddress, registryAddress);
        try
        {
            HostTools.Run("ip", "-n", netns, "link", "set", "lo", "up");
            HostTools.Run("ip", "link", "add", hostVeth, "type", "veth", "peer", "name", "eth0", "netns", netns);
            HostTools.Run("ip", "addr", "add", hostAddress + "/30", "dev", hostVeth);
            HostTools.Run("ip", "link", "set", hostVeth, "up");
            HostTools.Run("ip", "-n", netns, "addr", "add", registryAddress + "/30", "dev", "eth0");
            HostTools.Run("ip", "-n", netns, "link", "set", "eth0", "up");
        }
        catch
        {
            try
            {
                HostTools.Run("ip", "netns", "delete", netns);
            }
            catch (InvalidOperationException)
            {
            }
            throw;
        }
        return registry;
    }

    /// <summary>Writes config.yml (and the certificates, the htpasswd file or the token server's root bundle).</summary>
    private async Task ConfigureAsync()
    {
        var config = new StringBuilder();
        config.AppendLine("version: 0.1");
        config.AppendLine("log:");
        config.AppendLine("  level: info");
        config.AppendLine("storage:");
        config.AppendLine("  filesystem:");
        config.AppendLine($"    rootdirectory: {StorageDirectory}");
        config.AppendLine("  delete:");
        config.AppendLine("    enabled: true");
        config.AppendLine("  maintenance:");
        config.AppendLine("    uploadpurging:");
        config.AppendLine("      enabled: false");
        config.AppendLine("http:");
        config.AppendLine($"  addr: {RegistryAddress}:{Port}");
        config.AppendLine($"  secret: {Guid.NewGuid():N}");
        if (Options.Tls)
        {
            Certificates = await TestCertificates.CreateAsync(_directory.CreateDirectory("tls"), RegistryAddress);
            config.AppendLine("  tls:");
            config.AppendLine($"    certificate: {Certificates.ServerCertificate}");
            config.AppendLine($"    key: {Certificates.ServerKey}");
        }
        switch (Options.Auth)
        {
            case TestRegistryAuth.Basic:
                string htpasswd = HostTools.Require("htpasswd", "apache2-utils");
                var line = (await HostTools.RunAsync(htpasswd, ["-Bbn", Options.User, Options.Password])).StandardOutput.Trim();
                string file = _directory.File("htpasswd");
                await File.WriteAllTextAsync(file, line + "\n");
                config.AppendLine("auth:");
                config.AppendLine("  htpasswd:");
                config.AppendLine("    realm: kataagent-test-registry");
                config.AppendLine($"    path: {file}");
                break;
            case TestRegistryAuth.Token:
                string bundle = _directory.File("token-root.pem");
                TokenServer = new TestTokenServer(Options.User, Options.Password, bundle);
                config.AppendLine("auth:");
                config.AppendLine("  token:");
                config.AppendLine($"    realm: {TokenServer.Realm}");
                config.AppendLine($"    service: {TestTokenServer.Service}");
                config.AppendLine($"    issuer: {TestTokenServer.Issuer}");
                config.AppendLine($"    rootcertbundle: {bundle}");
                break;
        }
        await File.WriteAllTextAsync(ConfigPath, config.ToString());
    }
}
