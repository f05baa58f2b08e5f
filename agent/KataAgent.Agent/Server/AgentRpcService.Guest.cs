using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using KataAgent.Agent.Errors;
using KataAgent.Protocols.Agent;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Server;

/// <summary>RPCs about the guest as a whole: details, clock, entropy, metrics.</summary>
internal sealed partial class AgentRpcService
{
    public override Task<GuestDetailsResponse> GetGuestDetails(GuestDetailsRequest request, ServerCallContext context)
    {
        var response = new GuestDetailsResponse
        {
            AgentDetails = _guest.AgentDetails(),
        };
        if (request.MemBlockSize)
        {
            response.MemBlockSizeBytes = _guest.MemoryBlockSizeBytes();
        }
        if (request.MemHotplugProbe)
        {
            response.SupportMemHotplugProbe = _guest.SupportsMemoryHotplugProbe();
        }
        return Task.FromResult(response);
    }

    public override Task<Empty> SetGuestDateTime(SetGuestDateTimeRequest request, ServerCallContext context)
    {
        if (request.Sec < 0)
        {
            throw AgentException.InvalidArgument("Sec", $"{request.Sec} is negative");
        }
        if (request.Usec is < 0 or > 999_999)
        {
            throw AgentException.InvalidArgument("Usec", $"{request.Usec} is not in 0..999999");
        }
        _guest.SetClock(request.Sec, request.Usec);
        _logger.LogInformation("guest clock set to {Time:O}", DateTimeOffset.FromUnixTimeSeconds(request.Sec).AddTicks(request.Usec * 10));
        return Task.FromResult(new Empty());
    }

    public override Task<Empty> ReseedRandomDev(ReseedRandomDevRequest request, ServerCallContext context)
    {
        if (request.Data.IsEmpty)
        {
            throw AgentException.InvalidArgument("data", "is empty; nothing to seed the random device with");
        }
        _guest.Reseed(request.Data.Span);
        _logger.LogInformation("reseeded the guest CRNG with {Bytes} bytes", request.Data.Length);
        return Task.FromResult(new Empty());
    }

    public override Task<Metrics> GetMetrics(GetMetricsRequest request, ServerCallContext context) =>
        Task.FromResult(new Metrics { Metrics_ = _metrics.Collect() });
}
