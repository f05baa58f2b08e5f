using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using KataAgent.Protocols.Agent;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Server;

/// <summary>RPCs for resources the host hot-plugs: CPUs and memory, swap.</summary>
internal sealed partial class AgentRpcService
{
    public override async Task<Empty> OnlineCPUMem(OnlineCPUMemRequest request, ServerCallContext context)
    {
        await _hotplug.OnlineAsync(request.NbCpus, request.CpuOnly, request.Wait, context.CancellationToken).ConfigureAwait(false);
        _logger.LogInformation("OnlineCPUMem: nb_cpus {Cpus}, cpu_only {CpuOnly}, wait {Wait}", request.NbCpus, request.CpuOnly, request.Wait);
        return new Empty();
    }

    public override Task<Empty> MemHotplugByProbe(MemHotplugByProbeRequest request, ServerCallContext context)
    {
        _hotplug.Probe(request.MemHotplugProbeAddr);
        return Task.FromResult(new Empty());
    }

    public override async Task<Empty> AddSwap(AddSwapRequest request, ServerCallContext context)
    {
        await _swap.AddDeviceAsync(request.PCIPath, context.CancellationToken).ConfigureAwait(false);
        return new Empty();
    }

    public override Task<Empty> AddSwapPath(AddSwapPathRequest request, ServerCallContext context)
    {
        _swap.AddPath(request.Path);
        return Task.FromResult(new Empty());
    }
}
