using System.Diagnostics;
using FluentAssertions;
using Google.Protobuf;
using Grpc.Core;
using KataAgent.Host;
using KataAgent.Protocols.Agent;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Agent;

/// <summary>
/// The published agent serving gRPC and ttrpc on one unix socket at once: the first bytes of each connection
/// choose the protocol, and both reach the same core.
/// </summary>
public class DualProtocolTests
{
    [Fact]
    public async Task Ttrpc_and_gRPC_on_one_socket_give_the_same_answers_with_many_calls_in_flight()
    {
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var grpc = await agent.ConnectAsync();
        await using var ttrpc = await UnaryTtrpcCallInvoker.ConnectUnixAsync(SocketPath(agent));
        var ttrpcHealth = new Health.HealthClient(ttrpc);
        var ttrpcAgent = new AgentService.AgentServiceClient(ttrpc);

        (await ttrpcHealth.CheckAsync(new CheckRequest())).Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);
        var version = await ttrpcHealth.VersionAsync(new CheckRequest());
        version.Should().Be(await grpc.VersionAsync());
        version.AgentVersion.Should().MatchRegex(@"^\d+\.\d+\.\d+");

        // A call that waits (no OOM ever comes) does not hold up the others on its connection.
        var slow = ttrpcAgent.GetOOMEventAsync(new GetOOMEventRequest(), deadline: DateTime.UtcNow.AddSeconds(3)).ResponseAsync;

        // 200 calls in flight over one ttrpc connection and 200 over gRPC, interleaved; ttrpc answers them out of order.
        var calls = new List<Task<string>>();
        for (int i = 0; i < 200; i++)
        {
            calls.Add((i % 3) switch
            {
                0 => Describe(ttrpcHealth.CheckAsync(new CheckRequest()).ResponseAsync),
                1 => Describe(ttrpcHealth.VersionAsync(new CheckRequest()).ResponseAsync),
                _ => Describe(ttrpcAgent.GetGuestDetailsAsync(new GuestDetailsRequest()).ResponseAsync),
            });
            calls.Add((i % 3) switch
            {
                0 => Describe(grpc.Health.CheckAsync(new CheckRequest()).ResponseAsync),
                1 => Describe(grpc.Health.VersionAsync(new CheckRequest()).ResponseAsync),
                _ => Describe(grpc.GetGuestDetailsAsync(new GuestDetailsRequest())),
            });
        }
        string[] answers = await Task.WhenAll(calls).WaitAsync(TimeSpan.FromSeconds(30));
        slow.IsCompleted.Should().BeFalse("the waiting GetOOMEvent is still waiting while 400 other calls were answered");
        for (int i = 0; i < answers.Length; i += 2)
        {
            answers[i].Should().Be(answers[i + 1], "ttrpc and gRPC give the same answer to call {0}", i / 2);
        }
        answers.Should().Contain(a => a.Contains(version.AgentVersion));

        // timeout_nano is honoured: the waiting call ends with DEADLINE_EXCEEDED at its deadline, not before.
        var stopwatch = Stopwatch.StartNew();
        var expired = (await FluentActions.Awaiting(() => slow).Should().ThrowAsync<RpcException>()).Which;
        expired.StatusCode.Should().Be(StatusCode.DeadlineExceeded);
        stopwatch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(10));
        (await ttrpcHealth.CheckAsync(new CheckRequest())).Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);
    }

    [Fact]
    public async Task Ttrpc_alone_never_starts_the_web_host_and_racing_first_HTTP2_connections_start_it_once()
    {
        const string started = "gRPC server started on the first HTTP/2 connection";
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using (var ttrpc = await agent.ConnectAsync(new AgentClientOptions { Protocol = AgentProtocol.Ttrpc, ConnectTimeout = TimeSpan.FromSeconds(20) }))
        {
            (await ttrpc.VersionAsync()).AgentVersion.Should().MatchRegex(@"^\d+\.\d+\.\d+");
        }
        agent.Output.Should().NotContain(started);

        // Eight HTTP/2 connections at once, each the first for all it knows: every one is answered, one builds the host.
        var clients = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => agent.ConnectAsync()));
        try
        {
            foreach (var client in clients)
            {
                client.Protocol.Should().Be(AgentProtocol.Grpc);
                (await client.CheckAsync()).Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);
            }
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
        System.Text.RegularExpressions.Regex.Count(agent.Output, started).Should().Be(1, agent.Output);

        // ttrpc still served beside the started web host.
        await using var after = await UnaryTtrpcCallInvoker.ConnectUnixAsync(SocketPath(agent));
        (await new Health.HealthClient(after).CheckAsync(new CheckRequest())).Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);
    }

    [Fact]
    public async Task Failures_map_to_the_same_statuses_over_ttrpc_as_over_gRPC()
    {
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var grpc = await agent.ConnectAsync();
        await using var ttrpc = await UnaryTtrpcCallInvoker.ConnectUnixAsync(SocketPath(agent));

        // A bad field: INVALID_ARGUMENT naming it, from the one error mapping.
        var badUsec = new SetGuestDateTimeRequest { Sec = 1, Usec = 1_000_000 };
        var overTtrpc = await StatusOf(() => new AgentService.AgentServiceClient(ttrpc).SetGuestDateTimeAsync(badUsec).ResponseAsync);
        var overGrpc = await StatusOf(() => new AgentService.AgentServiceClient(grpc.CallInvoker).SetGuestDateTimeAsync(badUsec).ResponseAsync);
        overTtrpc.StatusCode.Should().Be(StatusCode.InvalidArgument);
        overTtrpc.Detail.Should().StartWith("Usec:");
        overTtrpc.Should().Be(overGrpc);

        // An unknown health service: NOT_FOUND over both.
        var unknown = new CheckRequest { Service = "no.such.Service" };
        var unknownTtrpc = await StatusOf(() => new Health.HealthClient(ttrpc).CheckAsync(unknown).ResponseAsync);
        unknownTtrpc.StatusCode.Should().Be(StatusCode.NotFound);
        unknownTtrpc.Should().Be(await StatusOf(() => grpc.Health.CheckAsync(unknown).ResponseAsync));

        // Bytes that are no valid request (a field cut short): INVALID_ARGUMENT naming the message type, as the gRPC
        // binder answers, for every method of Kata's two services (an unimplemented one too: it parses first).
        var garbage = ByteString.CopyFrom(0x0a, 0xff, 0x01);
        var methods = AgentReflection.Descriptor.Services.Single(s => s.FullName == "grpc.AgentService").Methods
            .Concat(HealthReflection.Descriptor.Services.Single(s => s.FullName == "grpc.Health").Methods)
            .ToList();
        methods.Should().HaveCount(44);
        foreach (var method in methods)
        {
            var call = () => ttrpc.Client.CallRawAsync(method.Service.FullName, method.Name, garbage);
            var error = (await call.Should().ThrowAsync<RpcException>()).Which;
            error.StatusCode.Should().Be(StatusCode.InvalidArgument, method.FullName);
            error.Status.Detail.Should().StartWith($"request is not a valid {method.InputType.FullName}: ");
        }

        // A container that does not exist: NOT_FOUND naming container_id, over both.
        var wait = new WaitProcessRequest { ContainerId = "nosuch" };
        var missing = await StatusOf(() => new AgentService.AgentServiceClient(ttrpc).WaitProcessAsync(wait).ResponseAsync);
        missing.StatusCode.Should().Be(StatusCode.NotFound);
        missing.Detail.Should().StartWith("container_id:");
        missing.Should().Be(await StatusOf(() => new AgentService.AgentServiceClient(grpc.CallInvoker).WaitProcessAsync(wait).ResponseAsync));
    }

    [Fact]
    public async Task Framing_garbage_closes_only_its_own_connection()
    {
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var grpc = await agent.ConnectAsync();
        await using var ttrpc = await UnaryTtrpcCallInvoker.ConnectUnixAsync(SocketPath(agent));
        var ttrpcAgent = new AgentService.AgentServiceClient(ttrpc);
        (await new Health.HealthClient(ttrpc).CheckAsync(new CheckRequest())).Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);
        var pending = ttrpcAgent.GetOOMEventAsync(new GetOOMEventRequest(), deadline: DateTime.UtcNow.AddSeconds(8)).ResponseAsync;

        // A length over ttrpc's 4 MiB limit: answered with Go's status on its stream, then that connection is closed.
        using (var oversized = await RawTtrpcConnection.ConnectUnixAsync(SocketPath(agent)))
        {
            await oversized.SendAsync(RawTtrpcConnection.Header(5 << 20, 1, 1));
            var answer = await oversized.ReadResponseAsync(TimeSpan.FromSeconds(10));
            answer.Should().NotBeNull();
            answer!.Value.StreamId.Should().Be(1);
            answer.Value.Response.Status.Code.Should().Be((int)StatusCode.ResourceExhausted);
            answer.Value.Response.Status.Message.Should().Be("message length 5242880 exceed maximum message size of 4194304");
            (await oversized.ClosedByPeerWithinAsync(TimeSpan.FromSeconds(10))).Should().BeTrue();
        }

        // An unknown frame type, a header cut short, and an HTTP/1.1 request (not the HTTP/2 preface, so taken as
        // ttrpc, whose first "length" is far over the limit): each closes its own connection.
        using (var unknownType = await RawTtrpcConnection.ConnectUnixAsync(SocketPath(agent)))
        {
            await unknownType.SendAsync(RawTtrpcConnection.Header(0, 1, 9));
            (await unknownType.ClosedByPeerWithinAsync(TimeSpan.FromSeconds(10))).Should().BeTrue();
        }
        using (var shortHeader = await RawTtrpcConnection.ConnectUnixAsync(SocketPath(agent)))
        {
            await shortHeader.SendAsync([0, 0, 0, 4, 0]);
            shortHeader.ShutdownSend();
            (await shortHeader.ClosedByPeerWithinAsync(TimeSpan.FromSeconds(10))).Should().BeTrue();
        }
        using (var http1 = await RawTtrpcConnection.ConnectUnixAsync(SocketPath(agent)))
        {
            await http1.SendAsync("GET / HTTP/1.1\r\nHost: agent\r\n\r\n"u8.ToArray());
            var answer = await http1.ReadResponseAsync(TimeSpan.FromSeconds(10));
            answer!.Value.Response.Status.Code.Should().Be((int)StatusCode.ResourceExhausted);
            (await http1.ClosedByPeerWithinAsync(TimeSpan.FromSeconds(10))).Should().BeTrue();
        }
        // The preface's first bytes followed by something else: HTTP/2 refuses it and closes the connection.
        using (var badPreface = await RawTtrpcConnection.ConnectUnixAsync(SocketPath(agent)))
        {
            await badPreface.SendAsync("PRI * HTTP/1.0\r\n\r\nXX\r\n\r\n"u8.ToArray());
            (await badPreface.ClosedByPeerWithinAsync(TimeSpan.FromSeconds(10))).Should().BeTrue();
        }

        // The connections opened before all that still serve, and the call waiting on one is still waiting.
        pending.IsCompleted.Should().BeFalse();
        (await new Health.HealthClient(ttrpc).CheckAsync(new CheckRequest())).Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);
        (await grpc.CheckAsync()).Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);
        (await FluentActions.Awaiting(() => pending).Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.DeadlineExceeded);
        agent.HasExited.Should().BeFalse();
    }

    [Fact]
    public async Task SIGTERM_closes_idle_ttrpc_connections_and_the_agent_exits()
    {
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using (var grpc = await agent.ConnectAsync())
        {
            (await grpc.CheckAsync()).Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);
        }
        var ttrpc = await UnaryTtrpcCallInvoker.ConnectUnixAsync(SocketPath(agent));
        await using var _ = ttrpc;
        (await new Health.HealthClient(ttrpc).CheckAsync(new CheckRequest())).Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);

        var stopwatch = Stopwatch.StartNew();
        int exitCode = await agent.TerminateAsync(TimeSpan.FromSeconds(20));
        exitCode.Should().Be(0, agent.Output);
        stopwatch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(10), "an idle ttrpc connection is closed at once, not after Kestrel's shutdown timeout");
        await ttrpc.Client.Completion.WaitAsync(TimeSpan.FromSeconds(5));
        var after = () => ttrpc.Client.CallRawAsync("grpc.Health", "Check", ByteString.Empty);
        (await after.Should().ThrowAsync<RpcException>()).Which.Status.Detail.Should().Be("ttrpc: closed");
    }

    [Fact]
    public async Task SIGTERM_lets_a_running_ttrpc_call_finish_and_answer_before_its_connection_closes()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using (var grpc = await agent.ConnectAsync())
        {
            await grpc.CreateContainerAsync(new CreateContainerRequest { ContainerId = "drain", OCI = KataAgent.Host.Sandboxes.ContainerSpecs.Default(rootfs.Path, ["sleep", "2"]) });
            await grpc.StartContainerAsync(new StartContainerRequest { ContainerId = "drain" });
        }
        await using var ttrpc = await UnaryTtrpcCallInvoker.ConnectUnixAsync(SocketPath(agent));
        var wait = new AgentService.AgentServiceClient(ttrpc).WaitProcessAsync(new WaitProcessRequest { ContainerId = "drain" }).ResponseAsync;
        await Task.Delay(300);

        var exit = agent.TerminateAsync(TimeSpan.FromSeconds(30));
        (await wait.WaitAsync(TimeSpan.FromSeconds(20))).Status.Should().Be(0, "the call running at SIGTERM is answered: " + agent.Output);
        (await exit).Should().Be(0, agent.Output);
        await ttrpc.Client.Completion.WaitAsync(TimeSpan.FromSeconds(5));
    }

    internal static string SocketPath(AgentProcess agent) => agent.Address["unix://".Length..];

    private static async Task<string> Describe<T>(Task<T> call)
        where T : IMessage => (await call).ToString()!;

    private static async Task<Status> StatusOf<T>(Func<Task<T>> call) =>
        (await FluentActions.Awaiting(call).Should().ThrowAsync<RpcException>()).Which!.Status;
}
