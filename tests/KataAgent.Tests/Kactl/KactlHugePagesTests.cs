using System.Diagnostics;
using System.Net.Sockets;
using FluentAssertions;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Kactl;

/// <summary>
/// The published kactl links native/HydratedHugePages: its 6 MB of type data, expanded at every start, is advised for
/// transparent huge pages. kactl is held alive by an address that accepts and never answers, and read from outside.
/// </summary>
public class KactlHugePagesTests
{
    [Fact]
    public async Task Kactls_expanded_type_data_is_advised_for_huge_pages()
    {
        string directory = Directory.CreateTempSubdirectory("kactl-thp-").FullName;
        try
        {
            string socketPath = Path.Combine(directory, "agent.sock");
            using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            listener.Bind(new UnixDomainSocketEndPoint(socketPath));
            listener.Listen(4);
            var start = new ProcessStartInfo(RepoPaths.KactlBinary, ["--addr", $"unix://{socketPath}", "--protocol", "ttrpc", "--timeout", "30", "check"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var kactl = Process.Start(start)!;
            try
            {
                using var connection = await listener.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(30));
                HugePageAdvice.AdvisedKiB(kactl.Id).Should().BeGreaterThanOrEqualTo(2048);
            }
            finally
            {
                kactl.Kill();
                await kactl.WaitForExitAsync();
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
