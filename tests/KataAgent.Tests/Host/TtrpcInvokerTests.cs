using System.Collections.Concurrent;
using System.Net.Sockets;
using FluentAssertions;
using Google.Protobuf;
using Grpc.Core;
using KataAgent.Host;
using KataAgent.Host.Containers;
using KataAgent.Host.Transport;
using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Extensions;
using KataAgent.Protocols.Ttrpc;
using KataAgent.Tests.Infrastructure;
using KataAgent.Tests.Ttrpc;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace KataAgent.Tests.Host;

/// <summary>
/// The host library over ttrpc against our <see cref="TtrpcServer"/>: gRPC's generated clients through
/// <see cref="TtrpcCallInvoker"/> (deadlines, metadata, cancellation, statuses, every stream kind), AgentClient's
/// protocol option and detection, and Kata's end of ReadStdout.
/// </summary>
public class TtrpcInvokerTests
{
    private const string Agent = "grpc.AgentService";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_generated_client_round_trips_with_its_deadline_and_metadata()
    {
        TtrpcCallContext? seen = null;
        var server = HealthServer();
        server.AddUnaryMethod("grpc.Health", "Version", CheckRequest.Parser, (CheckRequest request, TtrpcCallContext context) =>
        {
            seen = context;
            return Task.FromResult(new VersionCheckResponse { AgentVersion = "v-" + request.Service });
        });
        await using var host = new TtrpcTestServer(server);
        await using var ttrpc = await host.ConnectClientAsync();
        var health = new Health.HealthClient(new TtrpcCallInvoker(ttrpc));

        var reply = await health.VersionAsync(new CheckRequest { Service = "x" },
            new Metadata { { "Trace-Id", "abc" }, { "skip-bin", [1, 2] } }, DateTime.UtcNow.AddSeconds(30));

        reply.AgentVersion.Should().Be("v-x");
        seen!.Service.Should().Be("grpc.Health");
        seen.Method.Should().Be("Version");
        seen.Metadata.Should().BeEquivalentTo([KeyValuePair.Create("trace-id", "abc")], "binary metadata has no ttrpc form");
        seen.Deadline.Should().BeCloseTo(DateTime.UtcNow.AddSeconds(30), TimeSpan.FromSeconds(5));
        health.Version(new CheckRequest { Service = "blocking" }).AgentVersion.Should().Be("v-blocking");
    }

    [Fact]
    public async Task Statuses_deadlines_and_cancellation_are_rpc_exceptions_as_over_grpc()
    {
        var server = HealthServer();
        server.AddUnaryMethod(Agent, "ExecProcess", ExecProcessRequest.Parser, async (ExecProcessRequest request, TtrpcCallContext context) =>
        {
            if (request.ContainerId == "slow")
                await Task.Delay(Timeout.Infinite, context.CancellationToken);
            throw new RpcException(new Grpc.Core.Status(StatusCode.NotFound, "container " + request.ContainerId + " not found"));
#pragma warning disable CS0162 // the handler's type needs a return
            return new Google.Protobuf.WellKnownTypes.Empty();
#pragma warning restore CS0162
        });
        await using var host = new TtrpcTestServer(server);
        await using var ttrpc = await host.ConnectClientAsync();
        var agent = new AgentService.AgentServiceClient(new TtrpcCallInvoker(ttrpc));

        var notFound = await agent.Invoking(a => a.ExecProcessAsync(new ExecProcessRequest { ContainerId = "c1" }).ResponseAsync)
            .Should().ThrowAsync<RpcException>();
        notFound.Which.Status.Should().Be(new Grpc.Core.Status(StatusCode.NotFound, "container c1 not found"));

        var late = await agent.Invoking(a => a.ExecProcessAsync(new ExecProcessRequest { ContainerId = "slow" },
                deadline: DateTime.UtcNow.AddMilliseconds(300)).ResponseAsync)
            .Should().ThrowAsync<RpcException>();
        late.Which.StatusCode.Should().Be(StatusCode.DeadlineExceeded);

        var past = await agent.Invoking(a => a.ExecProcessAsync(new ExecProcessRequest { ContainerId = "slow" },
                deadline: DateTime.UtcNow.AddSeconds(-1)).ResponseAsync)
            .Should().ThrowAsync<RpcException>();
        past.Which.StatusCode.Should().Be(StatusCode.DeadlineExceeded);

        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        var call = agent.ExecProcessAsync(new ExecProcessRequest { ContainerId = "slow" }, cancellationToken: cancel.Token);
        var cancelled = await call.Awaiting(c => c.ResponseAsync).Should().ThrowAsync<RpcException>();
        cancelled.Which.StatusCode.Should().Be(StatusCode.Cancelled);
        call.GetStatus().StatusCode.Should().Be(StatusCode.Cancelled);
    }

    [Fact]
    public async Task The_typed_calls_map_ttrpc_statuses_to_agent_status_exceptions()
    {
        var server = HealthServer();
        server.AddUnaryMethod<ExecProcessRequest, Google.Protobuf.WellKnownTypes.Empty>(Agent, "ExecProcess", ExecProcessRequest.Parser,
            (_, _) => throw new RpcException(new Grpc.Core.Status(StatusCode.InvalidArgument, "bad exec id")));
        await using var host = new TtrpcTestServer(server);
        await using var client = await AgentClient.ConnectAsync(Connector(host), new AgentClientOptions { Protocol = AgentProtocol.Ttrpc });

        client.Protocol.Should().Be(AgentProtocol.Ttrpc);
        client.CallInvoker.Should().BeOfType<TtrpcCallInvoker>();
        var thrown = await client.Invoking(c => c.ExecProcessAsync(new ExecProcessRequest { ContainerId = "c" }))
            .Should().ThrowAsync<AgentStatusException>();
        (thrown.Which.StatusCode, thrown.Which.Detail).Should().Be((AgentStatusCode.InvalidArgument, "bad exec id"));
    }

    [Fact]
    public async Task Every_stream_kind_runs_through_the_invoker()
    {
        var server = HealthServer();
        server.AddStreamingMethod("kataagent.v1.Streaming", "Attach", TtrpcStreamKind.Duplex, async (stream, context) =>
        {
            while (await stream.ReadAsync(context.CancellationToken) is { } message)
            {
                var request = AttachRequest.Parser.ParseFrom(message.Span);
                if (request.KindCase == AttachRequest.KindOneofCase.Stdin)
                    await stream.WriteAsync(new AttachResponse { Stdout = request.Stdin }.ToByteString(), context.CancellationToken);
            }
            return new AttachResponse { Exit = new ProcessExit { Status = 7 } }.ToByteString();
        });
        server.AddStreamingMethod("test.S", "Count", TtrpcStreamKind.ServerStreaming, async (stream, _) =>
        {
            var request = CheckRequest.Parser.ParseFrom((await stream.ReadAsync())!.Value.Span);
            foreach (char c in request.Service)
                await stream.WriteAsync(new CheckRequest { Service = c.ToString() }.ToByteString());
            return null;
        });
        server.AddStreamingMethod("test.S", "Join", TtrpcStreamKind.ClientStreaming, async (stream, _) =>
        {
            string joined = "";
            while (await stream.ReadAsync() is { } message)
                joined += CheckRequest.Parser.ParseFrom(message.Span).Service;
            return new CheckRequest { Service = joined }.ToByteString();
        });
        await using var host = new TtrpcTestServer(server);
        await using var ttrpc = await host.ConnectClientAsync();
        var invoker = new TtrpcCallInvoker(ttrpc);

        using (var attach = new Streaming.StreamingClient(invoker).Attach())
        {
            await attach.RequestStream.WriteAsync(new AttachRequest { Start = new AttachStart { ContainerId = "c" } });
            await attach.RequestStream.WriteAsync(new AttachRequest { Stdin = ByteString.CopyFromUtf8("hi") });
            (await attach.ResponseStream.MoveNext(CancellationToken.None)).Should().BeTrue();
            attach.ResponseStream.Current.Stdout.ToStringUtf8().Should().Be("hi");
            await attach.RequestStream.CompleteAsync();
            (await attach.ResponseStream.MoveNext(CancellationToken.None)).Should().BeTrue();
            attach.ResponseStream.Current.Exit.Status.Should().Be(7);
            (await attach.ResponseStream.MoveNext(CancellationToken.None)).Should().BeFalse();
            attach.GetStatus().StatusCode.Should().Be(StatusCode.OK);
        }

        var count = new Method<CheckRequest, CheckRequest>(MethodType.ServerStreaming, "test.S", "Count", Marshal, Marshal);
        using (var call = invoker.AsyncServerStreamingCall(count, null, new CallOptions(), new CheckRequest { Service = "abc" }))
        {
            var letters = new List<string>();
            while (await call.ResponseStream.MoveNext(CancellationToken.None))
                letters.Add(call.ResponseStream.Current.Service);
            letters.Should().Equal("a", "b", "c");
        }

        var join = new Method<CheckRequest, CheckRequest>(MethodType.ClientStreaming, "test.S", "Join", Marshal, Marshal);
        using (var call = invoker.AsyncClientStreamingCall(join, null, new CallOptions()))
        {
            foreach (string part in new[] { "x", "y", "z" })
                await call.RequestStream.WriteAsync(new CheckRequest { Service = part });
            await call.RequestStream.CompleteAsync();
            (await call.ResponseAsync.WaitAsync(Patience)).Service.Should().Be("xyz");
        }

        var missing = new Method<CheckRequest, CheckRequest>(MethodType.ServerStreaming, "test.S", "Nope", Marshal, Marshal);
        using (var call = invoker.AsyncServerStreamingCall(missing, null, new CallOptions(), new CheckRequest()))
        {
            var thrown = await call.ResponseStream.Awaiting(r => r.MoveNext(CancellationToken.None)).Should().ThrowAsync<RpcException>();
            thrown.Which.Status.Should().Be(new Grpc.Core.Status(StatusCode.Unimplemented, "method Nope"));
            call.GetStatus().StatusCode.Should().Be(StatusCode.Unimplemented);
        }
    }

    [Fact]
    public async Task Detect_picks_ttrpc_when_the_peer_answers_in_ttrpc()
    {
        var server = new TtrpcServer { UnknownMethods = TtrpcUnknownMethodStyle.Rust };
        server.AddUnaryMethod("grpc.Health", "Check", CheckRequest.Parser, (CheckRequest _, TtrpcCallContext _) =>
            Task.FromResult(new HealthCheckResponse { Status = HealthCheckResponse.Types.ServingStatus.Serving }));
        await using var host = new TtrpcTestServer(server);

        await using var client = await AgentClient.ConnectAsync(Connector(host), new AgentClientOptions { Protocol = AgentProtocol.Detect });

        client.Protocol.Should().Be(AgentProtocol.Ttrpc);
        (await client.CheckAsync()).Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);
    }

    [Fact]
    public async Task Detect_picks_grpc_when_the_peer_drops_a_ttrpc_request()
    {
        // A gRPC-only server (Kestrel, as our agent was before it served ttrpc) drops a connection without the preface.
        using var directory = new TempDirectory();
        string socket = directory.File("grpc.sock");
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenUnixSocket(socket, listen => listen.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        await using var app = builder.Build();
        app.MapGrpcService<GrpcOnlyHealth>();
        await app.StartAsync();

        await using var client = await AgentClient.ConnectAsync(new UnixSocketConnector(socket, "unix://" + socket),
            new AgentClientOptions { Protocol = AgentProtocol.Detect, ConnectTimeout = TimeSpan.FromSeconds(20) });

        client.Protocol.Should().Be(AgentProtocol.Grpc);
        (await client.VersionAsync()).AgentVersion.Should().Be("grpc only");
        await app.StopAsync();
    }

    /// <summary>A gRPC Health service and nothing else.</summary>
    private sealed class GrpcOnlyHealth : Health.HealthBase
    {
        public override Task<HealthCheckResponse> Check(CheckRequest request, ServerCallContext context) =>
            Task.FromResult(new HealthCheckResponse { Status = HealthCheckResponse.Types.ServingStatus.Serving });

        public override Task<VersionCheckResponse> Version(CheckRequest request, ServerCallContext context) =>
            Task.FromResult(new VersionCheckResponse { AgentVersion = "grpc only" });
    }

    [Fact]
    public async Task A_broken_ttrpc_connection_is_replaced_on_the_next_call()
    {
        var server = HealthServer();
        await using var host = new TtrpcTestServer(server);
        var sockets = new ConcurrentQueue<Socket>();
        var connector = new DelegateConnector(async _ =>
        {
            var socket = await host.ConnectRawAsync();
            sockets.Enqueue(socket);
            return new NetworkStream(socket, ownsSocket: true);
        }, "counted");
        await using var client = await AgentClient.ConnectAsync(connector, new AgentClientOptions { Protocol = AgentProtocol.Ttrpc });
        sockets.Should().HaveCount(1);

        sockets.TryPeek(out var first).Should().BeTrue();
        first!.Shutdown(SocketShutdown.Both);
        await Task.Delay(100);
        HealthCheckResponse? answer = null;
        for (int attempt = 0; attempt < 3 && answer is null; attempt++)
        {
            try
            {
                answer = await client.CheckAsync();
            }
            catch (AgentStatusException e) when (e.StatusCode == AgentStatusCode.Unavailable)
            {
                // the break raced the call: the next one reconnects
            }
        }
        answer!.Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);
        sockets.Should().HaveCount(2);
    }

    [Fact]
    public async Task Kata_s_read_meet_eof_ends_an_output_stream_and_any_other_internal_error_does_not()
    {
        var reads = new ConcurrentDictionary<string, int>();
        var server = HealthServer();
        server.AddUnaryMethod(Agent, "ReadStdout", ReadStreamRequest.Parser, (ReadStreamRequest request, TtrpcCallContext _) =>
        {
            int n = reads.AddOrUpdate(request.ContainerId, 1, (_, v) => v + 1);
            if (n == 1)
                return Task.FromResult(new ReadStreamResponse { Data = ByteString.CopyFromUtf8("out") });
            // Kata's agent: anyhow!("read meet eof") through map_ttrpc_err(same), INTERNAL with the Debug text.
            string message = request.ContainerId switch
            {
                "kata" => "read meet eof",
                "kata-backtrace" => "read meet eof\n\nStack backtrace:\n   0: agent::rpc::read_stream",
                _ => "read meet eofx",
            };
            throw new RpcException(new Grpc.Core.Status(StatusCode.Internal, message));
        });
        await using var host = new TtrpcTestServer(server);
        await using var client = await AgentClient.ConnectAsync(Connector(host), new AgentClientOptions { Protocol = AgentProtocol.Ttrpc });

        foreach (string id in new[] { "kata", "kata-backtrace" })
        {
            await using var stdout = new UnaryOutputStream(client, id, "", stderr: false, chunkSize: 1024);
            (await new StreamReader(stdout).ReadToEndAsync().WaitAsync(Patience)).Should().Be("out");
        }
        await using var other = new UnaryOutputStream(client, "other", "", stderr: false, chunkSize: 1024);
        await other.Invoking(s => new StreamReader(s).ReadToEndAsync().WaitAsync(Patience)).Should().ThrowAsync<IOException>()
            .WithMessage("*read meet eofx*");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task The_streaming_probe_is_not_fooled_by_an_agent_that_answers_serving_to_any_service(bool kataLike)
    {
        var server = new TtrpcServer();
        server.AddUnaryMethod("grpc.Health", "Check", CheckRequest.Parser, (CheckRequest request, TtrpcCallContext _) =>
            kataLike || request.Service is "" or "kataagent.v1"
                ? Task.FromResult(new HealthCheckResponse { Status = HealthCheckResponse.Types.ServingStatus.Serving })
                : throw new RpcException(new Grpc.Core.Status(StatusCode.NotFound, "not served")));
        await using var host = new TtrpcTestServer(server);
        await using var client = await AgentClient.ConnectAsync(Connector(host), new AgentClientOptions { Protocol = AgentProtocol.Ttrpc });

        (await StreamingSupport.IsAvailableAsync(client).WaitAsync(Patience)).Should().Be(!kataLike,
            "Kata's agent says SERVING whatever the service, and has no kataagent.v1");
    }

    private static readonly Marshaller<CheckRequest> Marshal = Marshallers.Create(m => m.ToByteArray(), CheckRequest.Parser.ParseFrom);

    private static TtrpcServer HealthServer()
    {
        var server = new TtrpcServer();
        server.AddUnaryMethod("grpc.Health", "Check", CheckRequest.Parser, (CheckRequest _, TtrpcCallContext _) =>
            Task.FromResult(new HealthCheckResponse { Status = HealthCheckResponse.Types.ServingStatus.Serving }));
        return server;
    }

    private static UnixSocketConnector Connector(TtrpcTestServer host) => new(host.SocketPath, "unix://" + host.SocketPath);
}
