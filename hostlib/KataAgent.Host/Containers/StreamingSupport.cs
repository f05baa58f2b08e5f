using System.Runtime.CompilerServices;
using Grpc.Core;
using KataAgent.Protocols.Agent;

namespace KataAgent.Host.Containers;

/// <summary>
/// Whether an agent serves KataAgent's <c>kataagent.v1</c> extensions (the streaming
/// <c>Attach</c> among them): <c>Health.Check</c> with service "kataagent.v1" answers SERVING on
/// an agent that has them; any other agent answers NOT_FOUND or UNIMPLEMENTED, except one that
/// ignores the service and answers SERVING to anything, as Kata's own agent does: a second Check
/// for a service nobody serves tells it apart. Asked once per <see cref="AgentClient"/> and
/// remembered for as long as that client lives.
/// </summary>
public static class StreamingSupport
{
    /// <summary>The health-check service name of KataAgent's extension package.</summary>
    public const string ServiceName = "kataagent.v1";

    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(30);
    private static readonly ConditionalWeakTable<AgentClient, Task<bool>> Cache = new();

    /// <summary>True when the agent behind <paramref name="client"/> serves kataagent.v1.</summary>
    /// <exception cref="AgentStatusException">The probe failed for another reason (e.g. the agent is unreachable); not remembered.</exception>
    public static Task<bool> IsAvailableAsync(AgentClient client, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        Task<bool> probe;
        lock (Cache)
        {
            if (!Cache.TryGetValue(client, out probe!) || probe.IsFaulted || probe.IsCanceled)
            {
                probe = ProbeAsync(client);
                Cache.AddOrUpdate(client, probe);
            }
        }
        return probe.WaitAsync(cancellationToken);
    }

    /// <summary>Kata's agent answers SERVING whatever the service (its Health.Check never reads it).</summary>
    private static async Task<bool> AnswersServingToAnythingAsync(AgentClient client)
    {
        try
        {
            var response = await client.Health.CheckAsync(new CheckRequest { Service = ServiceName + ".no-such-service" }, deadline: DateTime.UtcNow + ProbeTimeout).ConfigureAwait(false);
            return response.Status == HealthCheckResponse.Types.ServingStatus.Serving;
        }
        catch (RpcException e) when (e.StatusCode is StatusCode.NotFound or StatusCode.Unimplemented)
        {
            return false;
        }
    }

    private static async Task<bool> ProbeAsync(AgentClient client)
    {
        // Both questions go out at once: one round trip before the first container instead of two (a short-lived
        // `kactl run --bundle` pays every one of them).
        Task<bool> answersAnything = AnswersServingToAnythingAsync(client);
        try
        {
            var response = await client.Health.CheckAsync(new CheckRequest { Service = ServiceName }, deadline: DateTime.UtcNow + ProbeTimeout).ConfigureAwait(false);
            if (response.Status != HealthCheckResponse.Types.ServingStatus.Serving)
            {
                Forget(answersAnything);
                return false;
            }
            return !await answersAnything.ConfigureAwait(false);
        }
        catch (RpcException e) when (e.StatusCode is StatusCode.NotFound or StatusCode.Unimplemented)
        {
            Forget(answersAnything);
            return false;
        }
        catch (RpcException e)
        {
            Forget(answersAnything);
            // A raw Health call (the typed client has no Check): translated here as the typed calls are.
            throw AgentStatusException.From(e, "Health.Check", CancellationToken.None);
        }
    }

    /// <summary>The second question's answer is not needed: its failure, if any, is observed and dropped.</summary>
    private static void Forget(Task<bool> probe) =>
        _ = probe.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
}
