using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using KataAgent.Agent.Errors;
using KataAgent.Protocols.Agent;

namespace KataAgent.Agent.Server;

/// <summary>Container lifecycle RPCs.</summary>
internal sealed partial class AgentRpcService
{
    public override async Task<Empty> CreateContainer(CreateContainerRequest request, ServerCallContext context)
    {
        if (request.Devices.Count > 0)
        {
            throw AgentException.InvalidArgument("devices", "device handlers are not available in this agent yet");
        }
        await _containers.CreateAsync(request.ContainerId, request.ExecId, request.OCI, request.Storages, request.SandboxPidns, context.CancellationToken).ConfigureAwait(false);
        return new Empty();
    }

    public override async Task<Empty> StartContainer(StartContainerRequest request, ServerCallContext context)
    {
        await _containers.StartAsync(request.ContainerId, context.CancellationToken).ConfigureAwait(false);
        return new Empty();
    }

    public override async Task<Empty> RemoveContainer(RemoveContainerRequest request, ServerCallContext context)
    {
        await _containers.RemoveAsync(request.ContainerId, TimeSpan.FromSeconds(request.Timeout), context.CancellationToken).ConfigureAwait(false);
        return new Empty();
    }

    public override Task<Empty> UpdateContainer(UpdateContainerRequest request, ServerCallContext context)
    {
        _containers.Update(request.ContainerId, request.Resources);
        return Task.FromResult(new Empty());
    }

    public override async Task<StatsContainerResponse> StatsContainer(StatsContainerRequest request, ServerCallContext context)
    {
        // The sandbox id names the sandbox itself when no container has it (Kata's pause container has it, we run
        // none): the pod's statistics, the whole guest's.
        bool sandbox = request.ContainerId.Length > 0 && request.ContainerId == _sandbox.SandboxId && !_containers.Contains(request.ContainerId);
        var response = new StatsContainerResponse { CgroupStats = sandbox ? _containers.SandboxStats() : _containers.Stats(request.ContainerId) };
        response.NetworkStats.AddRange(await _network.ListStatisticsAsync(context.CancellationToken).ConfigureAwait(false));
        return response;
    }

    public override Task<Empty> PauseContainer(PauseContainerRequest request, ServerCallContext context)
    {
        _containers.Pause(request.ContainerId);
        return Task.FromResult(new Empty());
    }

    public override Task<Empty> ResumeContainer(ResumeContainerRequest request, ServerCallContext context)
    {
        _containers.Resume(request.ContainerId);
        return Task.FromResult(new Empty());
    }

    public override async Task<OOMEvent> GetOOMEvent(GetOOMEventRequest request, ServerCallContext context) =>
        new() { ContainerId = await _containers.NextOomEventAsync(context.CancellationToken).ConfigureAwait(false) };
}
