using System.Collections.Concurrent;
using System.Net.Sockets;
using FluentAssertions;
using Google.Protobuf;
using Grpc.Core;
using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Ttrpc;
using Xunit;

namespace KataAgent.Tests.Ttrpc;

/// <summary>
/// Our ttrpc client and server over unix sockets: each against the other, and each against raw frames, so a fault
/// on one side cannot be hidden by the same fault on the other.
/// </summary>
public class TtrpcClientServerTests
{
    private const string Health = "grpc.Health";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_call_round_trips_with_its_metadata_and_deadline()
    {
        TtrpcCallContext? seen = null;
        var server = new TtrpcServer();
        server.AddUnaryMethod(Health, "Version", CheckRequest.Parser, (CheckRequest request, TtrpcCallContext context) =>
        {
            seen = context;
            return Task.FromResult(new VersionCheckResponse { AgentVersion = "echo " + request.Service });
        });
        await using var host = new TtrpcTestServer(server);
        await using var client = await host.ConnectClientAsync();

        var reply = await client.CallAsync(Health, "Version", new CheckRequest { Service = "x" }, VersionCheckResponse.Parser,
            timeout: TimeSpan.FromSeconds(30), metadata: [KeyValuePair.Create("Trace-Id", "abc")]);

        reply.AgentVersion.Should().Be("echo x");
        seen!.Service.Should().Be(Health);
        seen.Method.Should().Be("Version");
        seen.Metadata.Should().BeEquivalentTo([KeyValuePair.Create("trace-id", "abc")], o => o.WithStrictOrdering());
        seen.Deadline.Should().BeCloseTo(DateTime.UtcNow + TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Many_calls_in_flight_are_answered_out_of_order_each_with_its_own_reply()
    {
        var gates = new ConcurrentDictionary<string, TaskCompletionSource>();
        var server = new TtrpcServer();
        server.AddUnaryMethod(Health, "Version", CheckRequest.Parser, async (CheckRequest request, TtrpcCallContext context) =>
        {
            var gate = gates.GetOrAdd(request.Service, _ => new(TaskCreationOptions.RunContinuationsAsynchronously));
            await gate.Task.WaitAsync(context.CancellationToken);
            return new VersionCheckResponse { AgentVersion = request.Service };
        });
        await using var host = new TtrpcTestServer(server);
        await using var client = await host.ConnectClientAsync();

        const int count = 40;
        var calls = Enumerable.Range(0, count).Select(i => client.CallAsync(Health, "Version",
            new CheckRequest { Service = $"call-{i}" }, VersionCheckResponse.Parser)).ToArray();
        await WaitUntil(() => gates.Count == count);

        gates[$"call-{count - 1}"].SetResult();
        (await calls[^1].WaitAsync(Patience)).AgentVersion.Should().Be($"call-{count - 1}");
        calls[..^1].Should().OnlyContain(c => !c.IsCompleted, "the other calls are still held by the server");

        for (int i = count - 2; i >= 0; i--)
            gates[$"call-{i}"].SetResult();
        var replies = await Task.WhenAll(calls).WaitAsync(Patience);
        replies.Select(r => r.AgentVersion).Should().Equal(Enumerable.Range(0, count).Select(i => $"call-{i}"));
    }

    [Fact]
    public async Task Calls_and_streams_started_from_many_threads_at_once_reach_the_server_in_id_order()
    {
        var server = new TtrpcServer();
        server.AddUnaryMethod(Health, "Version", CheckRequest.Parser, (CheckRequest request, TtrpcCallContext _) =>
            Task.FromResult(new VersionCheckResponse { AgentVersion = request.Service }));
        server.AddStreamingMethod(Health, "Echo", TtrpcStreamKind.ServerStreaming, async (stream, _) =>
            ByteString.CopyFrom((await stream.ReadAsync())!.Value.Span));
        await using var host = new TtrpcTestServer(server);
        await using var client = await host.ConnectClientAsync();

        // The server refuses an id not above the last it saw: ids must be sent in the order they are taken.
        var work = Enumerable.Range(0, 400).Select(i => Task.Run(async () =>
        {
            if (i % 4 == 0)
            {
                await using var stream = await client.OpenStreamAsync(Health, "Echo", TtrpcStreamKind.ServerStreaming, ByteString.CopyFromUtf8($"s{i}"));
                var message = await stream.ReadAsync();
                return message is { } m ? System.Text.Encoding.UTF8.GetString(m.Span) : "";
            }
            return (await client.CallAsync(Health, "Version", new CheckRequest { Service = $"c{i}" }, VersionCheckResponse.Parser)).AgentVersion;
        })).ToArray();

        var replies = await Task.WhenAll(work).WaitAsync(Patience);
        replies.Should().Equal(Enumerable.Range(0, 400).Select(i => i % 4 == 0 ? $"s{i}" : $"c{i}"));
    }

    [Fact]
    public async Task A_drain_stops_reading_lets_the_running_call_answer_and_then_ends_the_connection()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int calls = 0;
        var server = new TtrpcServer();
        server.AddUnaryMethod(Health, "Version", CheckRequest.Parser, async (CheckRequest request, TtrpcCallContext context) =>
        {
            Interlocked.Increment(ref calls);
            started.TrySetResult();
            await release.Task.WaitAsync(context.CancellationToken);
            return new VersionCheckResponse { AgentVersion = request.Service };
        });
        using var pair = new TempDirectory();
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(pair.File("drain.sock")));
        listener.Listen(1);
        var clientSocket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await clientSocket.ConnectAsync(new UnixDomainSocketEndPoint(pair.File("drain.sock")));
        await using var serverStream = new NetworkStream(await listener.AcceptAsync(), ownsSocket: true);
        await using var client = new TtrpcClient(new NetworkStream(clientSocket, ownsSocket: true));
        using var drain = new CancellationTokenSource();
        var serving = server.ServeConnectionAsync(serverStream, drain: drain.Token);

        var running = client.CallAsync(Health, "Version", new CheckRequest { Service = "in flight" }, VersionCheckResponse.Parser);
        await started.Task.WaitAsync(Patience);
        await drain.CancelAsync();
        await Task.Delay(200);
        serving.IsCompleted.Should().BeFalse("the running call has not answered yet");

        release.SetResult();
        (await running.WaitAsync(Patience)).AgentVersion.Should().Be("in flight", "a drain cuts no running call off");
        await serving.WaitAsync(Patience);
        calls.Should().Be(1);
    }

    [Fact]
    public async Task A_slow_call_does_not_block_another()
    {
        var server = new TtrpcServer();
        server.AddUnaryMethod(Health, "Check", CheckRequest.Parser, async (CheckRequest _, TtrpcCallContext context) =>
        {
            await Task.Delay(Timeout.Infinite, context.CancellationToken);
            return new HealthCheckResponse();
        });
        server.AddUnaryMethod(Health, "Version", CheckRequest.Parser,
            (CheckRequest _, TtrpcCallContext _) => Task.FromResult(new VersionCheckResponse { AgentVersion = "fast" }));
        await using var host = new TtrpcTestServer(server);
        await using var client = await host.ConnectClientAsync();

        var slow = client.CallAsync(Health, "Check", new CheckRequest(), HealthCheckResponse.Parser);
        var fast = await client.CallAsync(Health, "Version", new CheckRequest(), VersionCheckResponse.Parser).WaitAsync(Patience);

        fast.AgentVersion.Should().Be("fast");
        slow.IsCompleted.Should().BeFalse();
    }

    [Fact]
    public async Task An_unknown_service_or_method_answers_as_gos_ttrpc()
    {
        var server = new TtrpcServer();
        server.AddUnaryMethod(Health, "Version", CheckRequest.Parser,
            (CheckRequest _, TtrpcCallContext _) => Task.FromResult(new VersionCheckResponse()));
        await using var host = new TtrpcTestServer(server);
        await using var client = await host.ConnectClientAsync();

        var noService = await client.Invoking(c => c.CallAsync("grpc.Nope", "Version", new CheckRequest(), VersionCheckResponse.Parser))
            .Should().ThrowAsync<RpcException>();
        noService.Which.StatusCode.Should().Be(StatusCode.Unimplemented);
        noService.Which.Status.Detail.Should().Be("service grpc.Nope");

        var noMethod = await client.Invoking(c => c.CallAsync(Health, "Nope", new CheckRequest(), VersionCheckResponse.Parser))
            .Should().ThrowAsync<RpcException>();
        noMethod.Which.StatusCode.Should().Be(StatusCode.Unimplemented);
        noMethod.Which.Status.Detail.Should().Be("method Nope");
    }

    [Fact]
    public async Task A_handler_failure_becomes_the_status_the_owners_mapping_gives()
    {
        var server = new TtrpcServer(e => e is FileNotFoundException
            ? new Grpc.Core.Status(StatusCode.NotFound, "mapped: " + e.Message)
            : new Grpc.Core.Status(StatusCode.Internal, "other"));
        server.AddUnaryMethod<CheckRequest, VersionCheckResponse>(Health, "Version", CheckRequest.Parser,
            (_, _) => throw new FileNotFoundException("no such thing"));
        await using var host = new TtrpcTestServer(server);
        await using var client = await host.ConnectClientAsync();

        var thrown = await client.Invoking(c => c.CallAsync(Health, "Version", new CheckRequest(), VersionCheckResponse.Parser))
            .Should().ThrowAsync<RpcException>();
        thrown.Which.StatusCode.Should().Be(StatusCode.NotFound);
        thrown.Which.Status.Detail.Should().Be("mapped: no such thing");
    }

    [Fact]
    public async Task Without_a_mapping_a_status_passes_through_and_anything_else_is_unknown()
    {
        var server = new TtrpcServer();
        server.AddUnaryMethod<CheckRequest, VersionCheckResponse>(Health, "Version", CheckRequest.Parser,
            (request, _) => throw (request.Service == "rpc"
                ? new RpcException(new Grpc.Core.Status(StatusCode.PermissionDenied, "denied"))
                : new InvalidOperationException("boom")));
        await using var host = new TtrpcTestServer(server);
        await using var client = await host.ConnectClientAsync();

        var rpc = await client.Invoking(c => c.CallAsync(Health, "Version", new CheckRequest { Service = "rpc" }, VersionCheckResponse.Parser))
            .Should().ThrowAsync<RpcException>();
        rpc.Which.Status.Should().Be(new Grpc.Core.Status(StatusCode.PermissionDenied, "denied"));
        var other = await client.Invoking(c => c.CallAsync(Health, "Version", new CheckRequest(), VersionCheckResponse.Parser))
            .Should().ThrowAsync<RpcException>();
        other.Which.Status.Should().Be(new Grpc.Core.Status(StatusCode.Unknown, "boom"));
    }

    [Fact]
    public async Task A_timeout_cancels_the_handler_and_fails_the_call_with_deadline_exceeded()
    {
        var handlerCancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var server = new TtrpcServer();
        server.AddUnaryMethod(Health, "Check", CheckRequest.Parser, async (CheckRequest _, TtrpcCallContext context) =>
        {
            context.CancellationToken.Register(() => handlerCancelled.TrySetResult());
            await Task.Delay(Timeout.Infinite, context.CancellationToken);
            return new HealthCheckResponse();
        });
        await using var host = new TtrpcTestServer(server);
        await using var client = await host.ConnectClientAsync();

        var thrown = await client.Invoking(c => c.CallAsync(Health, "Check", new CheckRequest(), HealthCheckResponse.Parser,
                timeout: TimeSpan.FromMilliseconds(300)))
            .Should().ThrowAsync<RpcException>();

        thrown.Which.StatusCode.Should().Be(StatusCode.DeadlineExceeded);
        await handlerCancelled.Task.WaitAsync(Patience);
    }

    [Fact]
    public async Task A_cancelled_call_fails_alone_and_the_connection_goes_on()
    {
        var server = new TtrpcServer();
        server.AddUnaryMethod(Health, "Check", CheckRequest.Parser, async (CheckRequest _, TtrpcCallContext context) =>
        {
            await Task.Delay(Timeout.Infinite, context.CancellationToken);
            return new HealthCheckResponse();
        });
        server.AddUnaryMethod(Health, "Version", CheckRequest.Parser,
            (CheckRequest _, TtrpcCallContext _) => Task.FromResult(new VersionCheckResponse { AgentVersion = "after" }));
        await using var host = new TtrpcTestServer(server);
        await using var client = await host.ConnectClientAsync();
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        var thrown = await client.Invoking(c => c.CallAsync(Health, "Check", new CheckRequest(), HealthCheckResponse.Parser,
                cancellationToken: cancel.Token))
            .Should().ThrowAsync<RpcException>();

        thrown.Which.StatusCode.Should().Be(StatusCode.Cancelled);
        (await client.CallAsync(Health, "Version", new CheckRequest(), VersionCheckResponse.Parser).WaitAsync(Patience)).AgentVersion.Should().Be("after");
    }

    [Fact]
    public async Task An_oversized_reply_reaches_the_caller_as_resource_exhausted()
    {
        var server = new TtrpcServer();
        server.AddUnaryMethod(Health, "Version", CheckRequest.Parser, (CheckRequest _, TtrpcCallContext _) =>
            Task.FromResult(new VersionCheckResponse { AgentVersion = new string('v', TtrpcFrame.MaxMessageLength) }));
        await using var host = new TtrpcTestServer(server);
        await using var client = await host.ConnectClientAsync();

        var thrown = await client.Invoking(c => c.CallAsync(Health, "Version", new CheckRequest(), VersionCheckResponse.Parser))
            .Should().ThrowAsync<RpcException>();

        thrown.Which.StatusCode.Should().Be(StatusCode.ResourceExhausted);
        thrown.Which.Status.Detail.Should().MatchRegex("^message length [0-9]+ exceed maximum message size of 4194304$");
    }

    [Theory]
    [InlineData("oversize")]
    [InlineData("short header")]
    [InlineData("unknown type")]
    public async Task A_framing_error_closes_that_connection_only(string fault)
    {
        var server = new TtrpcServer();
        server.AddUnaryMethod(Health, "Version", CheckRequest.Parser,
            (CheckRequest _, TtrpcCallContext _) => Task.FromResult(new VersionCheckResponse { AgentVersion = "up" }));
        await using var host = new TtrpcTestServer(server);
        await using var bystander = await host.ConnectClientAsync();
        (await bystander.CallAsync(Health, "Version", new CheckRequest(), VersionCheckResponse.Parser).WaitAsync(Patience)).AgentVersion.Should().Be("up");

        using var offender = await host.ConnectRawAsync();
        await using var stream = new NetworkStream(offender);
        var reader = new TtrpcFrameReader(stream);
        switch (fault)
        {
            case "oversize":
                await stream.WriteAsync(new byte[] { 0x00, 0x40, 0x00, 0x01, 0x00, 0x00, 0x00, 0x07, 0x01, 0x00 });
                var answer = await reader.ReadAsync().AsTask().WaitAsync(Patience);
                answer!.StreamId.Should().Be(7u);
                answer.Type.Should().Be(TtrpcMessageType.Response);
                var status = Response.Parser.ParseFrom(answer.Payload.Span).Status;
                status.Code.Should().Be((int)StatusCode.ResourceExhausted);
                status.Message.Should().Be("message length 4194305 exceed maximum message size of 4194304");
                break;
            case "short header":
                await stream.WriteAsync(new byte[] { 0x00, 0x00, 0x00, 0x27, 0x00 });
                offender.Shutdown(SocketShutdown.Send);
                break;
            default:
                await stream.WriteAsync(new byte[] { 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x09, 0x00 });
                break;
        }

        (await reader.ReadAsync().AsTask().WaitAsync(Patience)).Should().BeNull("the server closed the offending connection");
        host.ProtocolErrors.Should().ContainSingle();
        (await bystander.CallAsync(Health, "Version", new CheckRequest(), VersionCheckResponse.Parser).WaitAsync(Patience)).AgentVersion.Should().Be("up");
        await using var newcomer = await host.ConnectClientAsync();
        (await newcomer.CallAsync(Health, "Version", new CheckRequest(), VersionCheckResponse.Parser).WaitAsync(Patience)).AgentVersion.Should().Be("up");
    }

    [Fact]
    public async Task Bad_stream_ids_and_stray_data_frames_are_answered_on_their_stream_and_the_connection_stays()
    {
        var server = new TtrpcServer();
        server.AddUnaryMethod(Health, "Version", CheckRequest.Parser,
            (CheckRequest _, TtrpcCallContext _) => Task.FromResult(new VersionCheckResponse { AgentVersion = "up" }));
        await using var host = new TtrpcTestServer(server);
        using var socket = await host.ConnectRawAsync();
        await using var stream = new NetworkStream(socket);
        var reader = new TtrpcFrameReader(stream);
        var writer = new TtrpcFrameWriter(stream);
        byte[] version = new Request { Service = Health, Method = "Version" }.ToByteArray();

        async Task<Response> Exchange(uint streamId, TtrpcMessageType type, byte[] payload)
        {
            await writer.WriteAsync(new TtrpcFrame(streamId, type, TtrpcFlags.None, payload));
            var frame = await reader.ReadAsync().AsTask().WaitAsync(Patience);
            frame!.StreamId.Should().Be(streamId);
            frame.Type.Should().Be(TtrpcMessageType.Response);
            return Response.Parser.ParseFrom(frame.Payload.Span);
        }

        (await Exchange(2, TtrpcMessageType.Request, version)).Status.Should().Be(new Protocols.Ttrpc.Status
        {
            Code = (int)StatusCode.InvalidArgument, Message = "StreamID must be odd for client initiated streams",
        });
        var ok = await Exchange(3, TtrpcMessageType.Request, version);
        ok.Status.Should().BeNull("Go leaves the status out on success");
        VersionCheckResponse.Parser.ParseFrom(ok.Payload).AgentVersion.Should().Be("up");
        (await Exchange(3, TtrpcMessageType.Request, version)).Status.Should().Be(new Protocols.Ttrpc.Status
        {
            Code = (int)StatusCode.InvalidArgument, Message = "StreamID cannot be re-used and must increment",
        });
        (await Exchange(9, TtrpcMessageType.Data, [])).Status.Should().Be(new Protocols.Ttrpc.Status
        {
            Code = (int)StatusCode.InvalidArgument, Message = "StreamID is no longer active",
        });
        (await Exchange(11, TtrpcMessageType.Request, version)).Status.Should().BeNull();
        host.ProtocolErrors.Should().BeEmpty();
    }

    [Fact]
    public async Task The_client_uses_odd_increasing_ids_and_matches_replies_in_any_order()
    {
        using var directory = new TempDirectory();
        using var listener = Listen(directory.File("raw.sock"));
        await using var client = new TtrpcClient(new NetworkStream(await Connect(directory.File("raw.sock")), ownsSocket: true));
        using var peer = await listener.AcceptAsync();
        await using var stream = new NetworkStream(peer);
        var reader = new TtrpcFrameReader(stream);

        var first = client.CallAsync(Health, "Version", new CheckRequest { Service = "a" }, VersionCheckResponse.Parser,
            timeout: TimeSpan.FromMilliseconds(1500), metadata: [KeyValuePair.Create("K", "v")]);
        var requests = new List<(TtrpcFrame Frame, Request Request)>();
        requests.Add(await ReadRequest(reader));
        var second = client.CallRawAsync("containerd.task.v2.Task", "State", ByteString.CopyFromUtf8("raw"));
        requests.Add(await ReadRequest(reader));
        var third = client.CallAsync(Health, "Version", new CheckRequest { Service = "c" }, VersionCheckResponse.Parser);
        requests.Add(await ReadRequest(reader));

        requests.Select(r => r.Frame.StreamId).Should().Equal(1u, 3u, 5u);
        requests.Should().OnlyContain(r => r.Frame.Type == TtrpcMessageType.Request && r.Frame.Flags == TtrpcFlags.None);
        requests[0].Request.TimeoutNano.Should().Be(1_500_000_000);
        requests[0].Request.Metadata.Should().Equal(new KeyValue { Key = "k", Value = "v" });
        requests[1].Request.TimeoutNano.Should().Be(0);
        requests[1].Request.Payload.ToStringUtf8().Should().Be("raw");

        // Answer 5, then 3 with the captured NotFound bytes rewritten to stream 3, then 1: each call gets its own.
        await stream.WriteAsync(TtrpcFrameWriter.Encode(new TtrpcFrame(5, TtrpcMessageType.Response, TtrpcFlags.None,
            new Response { Payload = new VersionCheckResponse { AgentVersion = "five" }.ToByteString() }.ToByteArray())));
        (await third.WaitAsync(Patience)).AgentVersion.Should().Be("five");
        first.IsCompleted.Should().BeFalse();
        byte[] notFound = TtrpcFrameCodecTests.CapturedErrorResponse.ToArray();
        notFound[7] = 3;
        await stream.WriteAsync(notFound);
        var thrown = await second.Awaiting(t => t.WaitAsync(Patience)).Should().ThrowAsync<RpcException>();
        thrown.Which.Status.Should().Be(new Grpc.Core.Status(StatusCode.NotFound, "container not created: not found"));
        await stream.WriteAsync(TtrpcFrameWriter.Encode(new TtrpcFrame(1, TtrpcMessageType.Response, TtrpcFlags.None,
            new Response { Payload = new VersionCheckResponse { AgentVersion = "one" }.ToByteString() }.ToByteArray())));
        (await first.WaitAsync(Patience)).AgentVersion.Should().Be("one");
    }

    [Fact]
    public async Task A_broken_connection_fails_every_pending_call_and_every_later_one()
    {
        using var directory = new TempDirectory();
        using var listener = Listen(directory.File("raw.sock"));
        await using var client = new TtrpcClient(new NetworkStream(await Connect(directory.File("raw.sock")), ownsSocket: true));
        var peer = await listener.AcceptAsync();
        var reader = new TtrpcFrameReader(new NetworkStream(peer));

        var calls = Enumerable.Range(0, 3).Select(_ => client.CallAsync(Health, "Version", new CheckRequest(), VersionCheckResponse.Parser)).ToArray();
        for (int i = 0; i < calls.Length; i++)
            await ReadRequest(reader);
        peer.Dispose();

        foreach (var call in calls)
        {
            var thrown = await call.Awaiting(t => t.WaitAsync(Patience)).Should().ThrowAsync<RpcException>();
            thrown.Which.Status.StatusCode.Should().Be(StatusCode.Unavailable);
            thrown.Which.Status.Detail.Should().Be("ttrpc: closed");
        }
        await client.Completion.WaitAsync(Patience);
        var later = await client.Invoking(c => c.CallAsync(Health, "Version", new CheckRequest(), VersionCheckResponse.Parser))
            .Should().ThrowAsync<RpcException>();
        later.Which.Status.Detail.Should().Be("ttrpc: closed");
    }

    private static async Task<(TtrpcFrame Frame, Request Request)> ReadRequest(TtrpcFrameReader reader)
    {
        var frame = await reader.ReadAsync().AsTask().WaitAsync(Patience);
        frame.Should().NotBeNull();
        return (frame!, Request.Parser.ParseFrom(frame!.Payload.Span));
    }

    private static Socket Listen(string path)
    {
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(4);
        return listener;
    }

    private static async Task<Socket> Connect(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(path));
        return socket;
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        var until = DateTime.UtcNow + Patience;
        while (!condition())
        {
            DateTime.UtcNow.Should().BeBefore(until, "the condition should hold within {0}", Patience);
            await Task.Delay(10);
        }
    }
}
