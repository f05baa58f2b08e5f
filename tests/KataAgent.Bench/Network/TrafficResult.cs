namespace KataAgent.Bench.Network;

/// <summary>One server's numbers from <see cref="NetworkBench"/>: throughput medians in MiB/s, latency percentiles in µs.</summary>
internal sealed record TrafficResult(double UploadMiBps, double DownloadMiBps, double RoundTripP50, double RoundTripP99, double ConnectionP50, double ConnectionP99);
