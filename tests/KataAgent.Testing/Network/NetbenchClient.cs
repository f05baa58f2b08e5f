using System.Globalization;
using CliWrap;
using CliWrap.Buffered;

namespace KataAgent.Testing.Network;

/// <summary>
/// netbench's client, run in the node netns (ip netns exec) against one server address. The times
/// are netbench's own (taken around the traffic, not around the process), so starting the client
/// is not part of any number.
/// </summary>
public sealed class NetbenchClient(string netbench, string nodeNamespace, string address, int port)
{
    /// <summary>Until one request-response exchange reaches the server's process (through the VM, when there is one).</summary>
    public async Task WaitAsync(TimeSpan limit) =>
        await RunAsync("wait", ((int)limit.TotalSeconds).ToString(CultureInfo.InvariantCulture));

    /// <summary>"upload" or "download" of <paramref name="bytes"/>; MiB/s.</summary>
    public async Task<double> TransferAsync(string direction, long bytes)
    {
        string output = await RunAsync(direction, bytes.ToString(CultureInfo.InvariantCulture));
        double seconds = double.Parse(output.Trim(), CultureInfo.InvariantCulture);
        return bytes / 1024.0 / 1024.0 / seconds;
    }

    /// <summary>"rr" or "crr", <paramref name="count"/> exchanges; each one's time in µs, in order.</summary>
    public async Task<List<double>> LatenciesAsync(string kind, int count)
    {
        string output = await RunAsync(kind, count.ToString(CultureInfo.InvariantCulture));
        var samples = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => double.Parse(line, CultureInfo.InvariantCulture)).ToList();
        if (samples.Count != count)
        {
            throw new InvalidOperationException($"netbench {kind} {count} printed {samples.Count} samples");
        }
        return samples;
    }

    private async Task<string> RunAsync(string what, string value)
    {
        var result = await Cli.Wrap("ip")
            .WithArguments(["netns", "exec", nodeNamespace, netbench, "client", address, port.ToString(CultureInfo.InvariantCulture), what, value])
            .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync();
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"netbench client {address} {port} {what} {value} exited with {result.ExitCode}: {result.StandardError.Trim()}");
        }
        return result.StandardOutput;
    }
}
