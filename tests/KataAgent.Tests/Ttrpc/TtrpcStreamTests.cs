using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using FluentAssertions;
using Google.Protobuf;
using Grpc.Core;
using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Ttrpc;
using Xunit;

namespace KataAgent.Tests.Ttrpc;

/// <summary>
/// ttrpc 1.2 streams: our client against our server for every kind, each side against raw frames (so the flags and
/// the close rules are checked on the wire, not only between two halves that could share a mistake), Go's errors for
/// broken streams, and streams in flight next to each other and next to unary calls.
/// </summary>
/// <remarks>The reference's captures (containerd-shim-ttrpc.md §1.8) are unary only; no stream capture exists.</remarks>
public class TtrpcStreamTests
{
    private const string Service = "test.Streams";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_client_stream_round_trips_and_the_server_answers_once_with_a_response()
    {
        var server = new TtrpcServer();
        server.AddStreamingMethod(Service, "Join", TtrpcStreamKind.ClientStreaming, async (stream, _) =>
        {
            var parts = new List<string>();
            while (await stream.ReadAsync() is { } message)
                parts.Add(Encoding.UTF8.GetString(message.Span));
            return ByteString.CopyFromUtf8(string.Join("+", parts));
        });
        await using var host = new TtrpcTestServer(server);
        await using var client = await host.ConnectClientAsync();

        await using var call = await client.OpenStreamAsync(Service, "Join", TtrpcStreamKind.ClientStreaming);
        foreach (string part in new[] { "a", "", "c" })
            await call.WriteAsync(ByteString.CopyFromUtf8(part));
        await call.CloseWriteAsync();

        Text(await call.ReadAsync().AsTask().WaitAsync(Patience)).Should().Be("a++c", "an empty message is a message");
        (await call.ReadAsync().AsTask().WaitAsync(Patience)).Should().BeNull();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_server_stream_delivers_every_message_then_its_last_one_or_none(bool lastMessage)
    {
        var server = new TtrpcServer();
        server.AddStreamingMethod(Service, "Count", TtrpcStreamKind.ServerStreaming, async (stream, context) =>
        {
            var request = await stream.ReadAsync(context.CancellationToken);
            int count = int.Parse(Text(request));
            (await stream.ReadAsync()).Should().BeNull("a server-streaming client sends only its request");
            for (int i = 0; i < count; i++)
                await stream.WriteAsync(ByteString.CopyFromUtf8(i.ToString()));
            return lastMessage ? ByteString.CopyFromUtf8("last") : null;
        });
        await using var host = new TtrpcTestServer(server);
        await using var client = await host.ConnectClientAsync();

        await using var call = await client.OpenStreamAsync(Service, "Count", TtrpcStreamKind.ServerStreaming, ByteString.CopyFromUtf8("100"));
        var received = new List<string>();
        while (await call.ReadAsync().AsTask().WaitAsync(Patience) is { } message)
            received.Add(Text(message));

        var expected = Enumerable.Range(0, 100).Select(i => i.ToString()).ToList();
        if (lastMessage)
            expected.Add("last");
        received.Should().Equal(expected);
    }

    [Fact]
    public async Task A_duplex_stream_answers_each_message_as_it_comes()
    {
        var server = new TtrpcServer();
        server.AddStreamingMethod(Service, "Echo", TtrpcStreamKind.Duplex, async (stream, context) =>
        {
            while (await stream.ReadAsync(context.CancellationToken) is { } message)
                await stream.WriteAsync(ByteString.CopyFromUtf8(Text(message).ToUpperInvariant()), context.CancellationToken);
            return null;
        });
        await using var host = new TtrpcTestServer(server);
        await using var client = await host.ConnectClientAsync();

        await using var call = await client.OpenStreamAsync(Service, "Echo", TtrpcStreamKind.Duplex, ByteString.CopyFromUtf8("first"));
        Text(await call.ReadAsync().AsTask().WaitAsync(Patience)).Should().Be("FIRST", "the request's payload is the first message");
        foreach (string word in new[] { "one", "two", "three" })
        {
            await call.WriteAsync(ByteString.CopyFromUtf8(word));
            Text(await call.ReadAsync().AsTask().WaitAsync(Patience)).Should().Be(word.ToUpperInvariant());
        }
        await call.CloseWriteAsync();
        (await call.ReadAsync().AsTask().WaitAsync(Patience)).Should().BeNull();
    }

    [Fact]
    public async Task Writing_after_the_server_ended_the_stream_is_refused_as_on_a_completed_grpc_call()
    {
        var server = new TtrpcServer();
        server.AddStreamingMethod(Service, "Echo", TtrpcStreamKind.Duplex, (_, _) => Task.FromResult<ByteString?>(null));
        await using var host = new TtrpcTestServer(server);
        await using var client = await host.ConnectClientAsync();

        await using var call = await client.OpenStreamAsync(Service, "Echo", TtrpcStreamKind.Duplex);
        (await call.ReadAsync().AsTask().WaitAsync(Patience)).Should().BeNull();

        await call.Awaiting(c => c.WriteAsync(ByteString.CopyFromUtf8("late"))).Should().ThrowAsync<InvalidOperationException>()
            .WithMessage("*server has ended the stream*");
        await call.CloseWriteAsync();
    }

    [Fact]
    public async Task On_the_wire_the_server_streams_data_frames_and_ends_with_remote_closed()
    {
        var server = new TtrpcServer();
        server.AddStreamingMethod(Service, "Count", TtrpcStreamKind.ServerStreaming, async (stream, _) =>
        {
            await stream.WriteAsync(ByteString.CopyFromUtf8("x"));
            await stream.WriteAsync(ByteString.Empty);
            return Text(await stream.ReadAsync()) == "none" ? null : ByteString.CopyFromUtf8("z");
        });
        await using var host = new TtrpcTestServer(server);
        await using var raw = await RawConnection.OpenAsync(host);

        await raw.SendAsync(1, TtrpcMessageType.Request, TtrpcFlags.RemoteClosed, Envelope("Count", "some"));
        await raw.ExpectAsync(1, TtrpcMessageType.Data, TtrpcFlags.None, "x");
        await raw.ExpectAsync(1, TtrpcMessageType.Data, TtrpcFlags.None, "");
        await raw.ExpectAsync(1, TtrpcMessageType.Data, TtrpcFlags.RemoteClosed, "z");

        await raw.SendAsync(3, TtrpcMessageType.Request, TtrpcFlags.RemoteClosed, Envelope("Count", "none"));
        await raw.ExpectAsync(3, TtrpcMessageType.Data, TtrpcFlags.None, "x");
        await raw.ExpectAsync(3, TtrpcMessageType.Data, TtrpcFlags.None, "");
        await raw.ExpectAsync(3, TtrpcMessageType.Data, TtrpcFlags.RemoteClosed | TtrpcFlags.NoData, "");
    }

    [Fact]
    public async Task On_the_wire_a_client_stream_is_remote_open_data_then_an_empty_close()
    {
        using var directory = new TempDirectory();
        using var listener = RawConnection.Listen(directory.File("raw.sock"));
        await using var client = new TtrpcClient(await RawConnection.ConnectStreamAsync(directory.File("raw.sock")));
        using var peer = await listener.AcceptAsync();
        await using var raw = new RawConnection(peer);

        var call = await client.OpenStreamAsync(Service, "Join", TtrpcStreamKind.ClientStreaming);
        var request = await raw.ExpectAsync(1, TtrpcMessageType.Request, TtrpcFlags.RemoteOpen);
        var envelope = Request.Parser.ParseFrom(request.Payload.Span);
        (envelope.Service, envelope.Method, envelope.Payload.IsEmpty).Should().Be((Service, "Join", true));
        await call.WriteAsync(ByteString.CopyFromUtf8("m"));
        await raw.ExpectAsync(1, TtrpcMessageType.Data, TtrpcFlags.None, "m");
        await call.CloseWriteAsync();
        await call.CloseWriteAsync();
        await raw.ExpectAsync(1, TtrpcMessageType.Data, TtrpcFlags.RemoteClosed | TtrpcFlags.NoData, "");
        await call.Awaiting(c => c.WriteAsync(ByteString.CopyFromUtf8("late"))).Should().ThrowAsync<InvalidOperationException>();

        var serverStream = await client.OpenStreamAsync(Service, "Count", TtrpcStreamKind.ServerStreaming, ByteString.CopyFromUtf8("r"));
        await raw.ExpectAsync(3, TtrpcMessageType.Request, TtrpcFlags.RemoteClosed);
        // A frame for a stream nobody opened is dropped, as Go drops it; the real answers still arrive.
        await raw.SendAsync(99, TtrpcMessageType.Data, TtrpcFlags.None, "stray"u8.ToArray());
        await raw.SendAsync(3, TtrpcMessageType.Data, TtrpcFlags.None, "s1"u8.ToArray());
        await raw.SendAsync(1, TtrpcMessageType.Response, TtrpcFlags.None,
            new Response { Payload = ByteString.CopyFromUtf8("joined") }.ToByteArray());
        await raw.SendAsync(3, TtrpcMessageType.Data, TtrpcFlags.NoData, []);
        await raw.SendAsync(3, TtrpcMessageType.Data, TtrpcFlags.RemoteClosed | TtrpcFlags.NoData, []);

        Text(await call.ReadAsync().AsTask().WaitAsync(Patience)).Should().Be("joined");
        (await call.ReadAsync().AsTask().WaitAsync(Patience)).Should().BeNull();
        Text(await serverStream.ReadAsync().AsTask().WaitAsync(Patience)).Should().Be("s1");
        (await serverStream.ReadAsync().AsTask().WaitAsync(Patience)).Should().BeNull("NoData carries no message, not even an empty one");
        await serverStream.Awaiting(s => s.WriteAsync(ByteString.Empty)).Should().ThrowAsync<InvalidOperationException>();
        await call.DisposeAsync();
    }

    [Fact]
    public async Task A_client_stream_nobody_reads_is_failed_when_its_buffer_stays_full_and_the_connection_goes_on()
    {
        using var directory = new TempDirectory();
        using var listener = RawConnection.Listen(directory.File("raw.sock"));
        await using var client = new TtrpcClient(await RawConnection.ConnectStreamAsync(directory.File("raw.sock")))
        {
            StreamFullTimeout = TimeSpan.FromMilliseconds(200),
        };
        using var peer = await listener.AcceptAsync();
        await using var raw = new RawConnection(peer);

        await using var unread = await client.OpenStreamAsync(Service, "Count", TtrpcStreamKind.ServerStreaming);
        await raw.ExpectAsync(1, TtrpcMessageType.Request, TtrpcFlags.RemoteClosed);
        for (int i = 0; i <= TtrpcServer.StreamBufferCapacity; i++)
            await raw.SendAsync(1, TtrpcMessageType.Data, TtrpcFlags.None, [(byte)i]);
        var call = client.CallRawAsync("grpc.Health", "Version", ByteString.Empty);
        await raw.ExpectAsync(3, TtrpcMessageType.Request, TtrpcFlags.None);
        await raw.SendAsync(3, TtrpcMessageType.Response, TtrpcFlags.None, new Response { Payload = ByteString.CopyFromUtf8("ok") }.ToByteArray());

        (await call.WaitAsync(Patience)).ToStringUtf8().Should().Be("ok", "the full stream held the receive loop up for its grace period only");
        for (int i = 0; i < TtrpcServer.StreamBufferCapacity; i++)
            (await unread.ReadAsync().AsTask().WaitAsync(Patience))!.Value.Span[0].Should().Be((byte)i);
        var thrown = await unread.Awaiting(s => s.ReadAsync().AsTask().WaitAsync(Patience)).Should().ThrowAsync<RpcException>();
        thrown.Which.Status.Should().Be(new Grpc.Core.Status(StatusCode.ResourceExhausted, "ttrpc: stream buffer full"));
    }

    [Fact]
    public async Task The_client_takes_a_data_frame_on_a_client_streaming_call_as_a_protocol_error()
    {
        using var directory = new TempDirectory();
        using var listener = RawConnection.Listen(directory.File("raw.sock"));
        await using var client = new TtrpcClient(await RawConnection.ConnectStreamAsync(directory.File("raw.sock")));
        using var peer = await listener.AcceptAsync();
        await using var raw = new RawConnection(peer);

        await using var call = await client.OpenStreamAsync(Service, "Join", TtrpcStreamKind.ClientStreaming);
        await raw.ExpectAsync(1, TtrpcMessageType.Request, TtrpcFlags.RemoteOpen);
        await raw.SendAsync(1, TtrpcMessageType.Data, TtrpcFlags.None, "nope"u8.ToArray());

        var thrown = await call.Awaiting(c => c.ReadAsync().AsTask().WaitAsync(Patience)).Should().ThrowAsync<RpcException>();
        thrown.Which.Status.Should().Be(new Grpc.Core.Status(StatusCode.Internal, "received data from non-streaming server: protocol error"));
    }

    [Fact]
    public async Task A_close_frame_with_data_gives_up_that_stream_with_gos_error_and_the_connection_goes_on()
    {
        var handlerCancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var server = new TtrpcServer();
        server.AddStreamingMethod(Service, "Join", TtrpcStreamKind.ClientStreaming, async (stream, context) =>
        {
            context.CancellationToken.Register(() => handlerCancelled.TrySetResult());
            while (await stream.ReadAsync() is not null)
            {
            }
            await Task.Delay(Timeout.Infinite, context.CancellationToken);
            return ByteString.CopyFromUtf8("never sent");
        });
        AddVersion(server);
        await using var host = new TtrpcTestServer(server);
        await using var raw = await RawConnection.OpenAsync(host);

        await raw.SendAsync(1, TtrpcMessageType.Request, TtrpcFlags.RemoteOpen, Envelope("Join", null));
        await raw.SendAsync(1, TtrpcMessageType.Data, TtrpcFlags.RemoteClosed, "data"u8.ToArray());
        (await raw.ExpectStatusAsync(1)).Should().Be((StatusCode.InvalidArgument, "data close message cannot include data"));
        await handlerCancelled.Task.WaitAsync(Patience);

        await raw.SendAsync(1, TtrpcMessageType.Data, TtrpcFlags.None, "more"u8.ToArray());
        (await raw.ExpectStatusAsync(1)).Should().Be((StatusCode.InvalidArgument, "StreamID is no longer active"));
        await raw.SendAsync(4, TtrpcMessageType.Data, TtrpcFlags.None, []);
        (await raw.ExpectStatusAsync(4)).Should().Be((StatusCode.InvalidArgument, "StreamID must be odd for client initiated streams"));
        await raw.SendAsync(5, TtrpcMessageType.Request, TtrpcFlags.None,
            new Request { Service = "grpc.Health", Method = "Version", Payload = new CheckRequest().ToByteString() }.ToByteArray());
        var version = await raw.ExpectAsync(5, TtrpcMessageType.Response, TtrpcFlags.None);
        Response.Parser.ParseFrom(version.Payload.Span).Status.Should().BeNull();
        host.ProtocolErrors.Should().BeEmpty();
    }

    [Fact]
    public async Task Data_on_a_stream_whose_client_side_is_closed_is_gos_stream_closed_error()
    {
        var server = new TtrpcServer();
        server.AddStreamingMethod(Service, "Count", TtrpcStreamKind.ServerStreaming, async (_, context) =>
        {
            await Task.Delay(Timeout.Infinite, context.CancellationToken);
            return null;
        });
        await using var host = new TtrpcTestServer(server);
        await using var raw = await RawConnection.OpenAsync(host);

        await raw.SendAsync(1, TtrpcMessageType.Request, TtrpcFlags.RemoteClosed, Envelope("Count", "1"));
        await raw.SendAsync(1, TtrpcMessageType.Data, TtrpcFlags.None, "extra"u8.ToArray());

        (await raw.ExpectStatusAsync(1)).Should().Be((StatusCode.InvalidArgument, "data handling error: ttrpc: stream closed"));
    }

    [Fact]
    public async Task A_stream_whose_handler_does_not_read_is_given_up_when_its_buffer_stays_full_and_only_it()
    {
        var server = new TtrpcServer { StreamFullTimeout = TimeSpan.FromMilliseconds(200) };
        server.AddStreamingMethod(Service, "Join", TtrpcStreamKind.ClientStreaming, async (_, context) =>
        {
            await Task.Delay(Timeout.Infinite, context.CancellationToken);
            return null;
        });
        AddVersion(server);
        await using var host = new TtrpcTestServer(server);
        await using var client = await host.ConnectClientAsync();

        await using var stuck = await client.OpenStreamAsync(Service, "Join", TtrpcStreamKind.ClientStreaming);
        for (int i = 0; i <= TtrpcServer.StreamBufferCapacity; i++)
            await stuck.WriteAsync(ByteString.CopyFromUtf8(i.ToString()));

        var thrown = await stuck.Awaiting(s => s.ReadAsync().AsTask().WaitAsync(Patience)).Should().ThrowAsync<RpcException>();
        thrown.Which.Status.Should().Be(new Grpc.Core.Status(StatusCode.InvalidArgument, "data handling error: ttrpc: stream buffer full"));
        (await client.CallAsync("grpc.Health", "Version", new CheckRequest(), VersionCheckResponse.Parser).WaitAsync(Patience))
            .AgentVersion.Should().Be("up");
    }

    [Fact]
    public async Task Many_streams_in_flight_end_out_of_order_and_a_held_stream_blocks_no_other_call()
    {
        var gates = new ConcurrentDictionary<string, TaskCompletionSource>();
        var server = new TtrpcServer();
        server.AddStreamingMethod(Service, "Echo", TtrpcStreamKind.Duplex, async (stream, context) =>
        {
            string name = Text(await stream.ReadAsync(context.CancellationToken));
            await stream.WriteAsync(ByteString.CopyFromUtf8("started " + name));
            var gate = gates.GetOrAdd(name, _ => new(TaskCreationOptions.RunContinuationsAsynchronously));
            await gate.Task.WaitAsync(context.CancellationToken);
            while (await stream.ReadAsync(context.CancellationToken) is { } message)
                await stream.WriteAsync(ByteString.CopyFromUtf8(name + ":" + Text(message)));
            return ByteString.CopyFromUtf8("done " + name);
        });
        AddVersion(server);
        await using var host = new TtrpcTestServer(server);
        await using var client = await host.ConnectClientAsync();

        const int count = 20;
        var calls = new TtrpcClientStream[count];
        for (int i = 0; i < count; i++)
        {
            calls[i] = await client.OpenStreamAsync(Service, "Echo", TtrpcStreamKind.Duplex, ByteString.CopyFromUtf8($"s{i}"));
            await calls[i].WriteAsync(ByteString.CopyFromUtf8("ping"));
            await calls[i].CloseWriteAsync();
        }
        for (int i = 0; i < count; i++)
            Text(await calls[i].ReadAsync().AsTask().WaitAsync(Patience)).Should().Be($"started s{i}");
        (await client.CallAsync("grpc.Health", "Version", new CheckRequest(), VersionCheckResponse.Parser).WaitAsync(Patience))
            .AgentVersion.Should().Be("up", "held streams block no unary call");

        var echoes = calls.Select(c => c.ReadAsync().AsTask()).ToArray();
        for (int i = count - 1; i >= 0; i--)
        {
            gates[$"s{i}"].SetResult();
            Text(await echoes[i].WaitAsync(Patience)).Should().Be($"s{i}:ping");
            Text(await calls[i].ReadAsync().AsTask().WaitAsync(Patience)).Should().Be($"done s{i}");
            (await calls[i].ReadAsync().AsTask().WaitAsync(Patience)).Should().BeNull();
            if (i > 0)
                echoes[..i].Should().OnlyContain(e => !e.IsCompleted, "the streams before s{0} are still held", i);
        }
        foreach (var call in calls)
            await call.DisposeAsync();
    }

    [Fact]
    public async Task A_stream_handler_failure_reaches_the_client_as_the_mapped_status()
    {
        var server = new TtrpcServer(e => new Grpc.Core.Status(StatusCode.NotFound, "mapped: " + e.Message));
        server.AddStreamingMethod(Service, "Count", TtrpcStreamKind.ServerStreaming, async (stream, _) =>
        {
            await stream.WriteAsync(ByteString.CopyFromUtf8("before"));
            throw new FileNotFoundException("gone");
        });
        await using var host = new TtrpcTestServer(server);
        await using var client = await host.ConnectClientAsync();

        await using var call = await client.OpenStreamAsync(Service, "Count", TtrpcStreamKind.ServerStreaming, ByteString.Empty);

        Text(await call.ReadAsync().AsTask().WaitAsync(Patience)).Should().Be("before");
        var thrown = await call.Awaiting(c => c.ReadAsync().AsTask().WaitAsync(Patience)).Should().ThrowAsync<RpcException>();
        thrown.Which.Status.Should().Be(new Grpc.Core.Status(StatusCode.NotFound, "mapped: gone"));
    }

    [Fact]
    public async Task A_stream_timeout_reaches_the_handler_and_ends_the_stream_with_deadline_exceeded()
    {
        var handlerCancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        TtrpcCallContext? seen = null;
        var server = new TtrpcServer();
        server.AddStreamingMethod(Service, "Join", TtrpcStreamKind.ClientStreaming, async (stream, context) =>
        {
            seen = context;
            context.CancellationToken.Register(() => handlerCancelled.TrySetResult());
            while (await stream.ReadAsync() is not null)
            {
            }
            return null;
        });
        await using var host = new TtrpcTestServer(server);
        await using var client = await host.ConnectClientAsync();

        await using var call = await client.OpenStreamAsync(Service, "Join", TtrpcStreamKind.ClientStreaming,
            timeout: TimeSpan.FromMilliseconds(400), metadata: [KeyValuePair.Create("K", "v")]);

        var thrown = await call.Awaiting(c => c.ReadAsync().AsTask().WaitAsync(Patience)).Should().ThrowAsync<RpcException>();
        thrown.Which.StatusCode.Should().Be(StatusCode.DeadlineExceeded);
        await handlerCancelled.Task.WaitAsync(Patience);
        seen!.Metadata.Should().BeEquivalentTo([KeyValuePair.Create("k", "v")]);
        seen.Deadline.Should().NotBeNull();
    }

    [Fact]
    public async Task Cancelling_a_stream_fails_it_alone()
    {
        var server = new TtrpcServer();
        server.AddStreamingMethod(Service, "Count", TtrpcStreamKind.ServerStreaming, async (_, context) =>
        {
            await Task.Delay(Timeout.Infinite, context.CancellationToken);
            return null;
        });
        AddVersion(server);
        await using var host = new TtrpcTestServer(server);
        await using var client = await host.ConnectClientAsync();
        using var cancel = new CancellationTokenSource();

        await using var call = await client.OpenStreamAsync(Service, "Count", TtrpcStreamKind.ServerStreaming, cancellationToken: cancel.Token);
        var reading = call.ReadAsync().AsTask();
        await cancel.CancelAsync();

        var thrown = await reading.Awaiting(r => r.WaitAsync(Patience)).Should().ThrowAsync<RpcException>();
        thrown.Which.StatusCode.Should().Be(StatusCode.Cancelled);
        (await client.CallAsync("grpc.Health", "Version", new CheckRequest(), VersionCheckResponse.Parser).WaitAsync(Patience))
            .AgentVersion.Should().Be("up");
    }

    [Fact]
    public async Task A_broken_connection_fails_every_open_stream_with_ttrpc_closed()
    {
        using var directory = new TempDirectory();
        using var listener = RawConnection.Listen(directory.File("raw.sock"));
        await using var client = new TtrpcClient(await RawConnection.ConnectStreamAsync(directory.File("raw.sock")));
        var peer = await listener.AcceptAsync();

        await using var a = await client.OpenStreamAsync(Service, "Echo", TtrpcStreamKind.Duplex);
        await using var b = await client.OpenStreamAsync(Service, "Count", TtrpcStreamKind.ServerStreaming);
        peer.Dispose();

        foreach (var stream in new[] { a, b })
        {
            var thrown = await stream.Awaiting(s => s.ReadAsync().AsTask().WaitAsync(Patience)).Should().ThrowAsync<RpcException>();
            (thrown.Which.StatusCode, thrown.Which.Status.Detail).Should().Be((StatusCode.Unavailable, "ttrpc: closed"));
        }
        var later = await client.Invoking(c => c.OpenStreamAsync(Service, "Echo", TtrpcStreamKind.Duplex)).Should().ThrowAsync<RpcException>();
        later.Which.Status.Detail.Should().Be("ttrpc: closed");
    }

    [Fact]
    public async Task Unknown_services_and_methods_answer_as_rusts_ttrpc_when_asked()
    {
        var server = new TtrpcServer { UnknownMethods = TtrpcUnknownMethodStyle.Rust };
        AddVersion(server);
        await using var host = new TtrpcTestServer(server);
        await using var client = await host.ConnectClientAsync();

        var noService = await client.Invoking(c => c.CallAsync("grpc.Nope", "Version", new CheckRequest(), VersionCheckResponse.Parser))
            .Should().ThrowAsync<RpcException>();
        noService.Which.Status.Should().Be(new Grpc.Core.Status(StatusCode.InvalidArgument, "/grpc.Nope/Version does not exist"));
        var noMethod = await client.Invoking(c => c.CallAsync("grpc.Health", "Nope", new CheckRequest(), VersionCheckResponse.Parser))
            .Should().ThrowAsync<RpcException>();
        noMethod.Which.Status.Should().Be(new Grpc.Core.Status(StatusCode.InvalidArgument, "/grpc.Health/Nope does not exist"));

        await using var stream = await client.OpenStreamAsync("grpc.Health", "Watch", TtrpcStreamKind.ServerStreaming);
        var noStream = await stream.Awaiting(s => s.ReadAsync().AsTask().WaitAsync(Patience)).Should().ThrowAsync<RpcException>();
        noStream.Which.Status.Should().Be(new Grpc.Core.Status(StatusCode.InvalidArgument, "/grpc.Health/Watch does not exist"));
    }

    private static void AddVersion(TtrpcServer server) =>
        server.AddUnaryMethod("grpc.Health", "Version", CheckRequest.Parser,
            (CheckRequest _, TtrpcCallContext _) => Task.FromResult(new VersionCheckResponse { AgentVersion = "up" }));

    private static byte[] Envelope(string method, string? payload) => new Request
    {
        Service = Service,
        Method = method,
        Payload = payload is null ? ByteString.Empty : ByteString.CopyFromUtf8(payload),
    }.ToByteArray();

    private static string Text(ReadOnlyMemory<byte>? message)
    {
        message.Should().NotBeNull("a message was expected, not the end of the stream");
        return Encoding.UTF8.GetString(message!.Value.Span);
    }

    /// <summary>One end of a connection spoken in raw frames.</summary>
    private sealed class RawConnection(Socket socket) : IAsyncDisposable
    {
        private readonly NetworkStream stream = new(socket, ownsSocket: true);
        private TtrpcFrameReader? reader;
        private TtrpcFrameWriter? writer;

        private TtrpcFrameReader Reader => reader ??= new TtrpcFrameReader(stream);

        private TtrpcFrameWriter Writer => writer ??= new TtrpcFrameWriter(stream);

        public static async Task<RawConnection> OpenAsync(TtrpcTestServer host) => new(await host.ConnectRawAsync());

        public static Socket Listen(string path)
        {
            var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            listener.Bind(new UnixDomainSocketEndPoint(path));
            listener.Listen(4);
            return listener;
        }

        public static async Task<Stream> ConnectStreamAsync(string path)
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path));
            return new NetworkStream(socket, ownsSocket: true);
        }

        public Task SendAsync(uint streamId, TtrpcMessageType type, TtrpcFlags flags, byte[] payload) =>
            Writer.WriteAsync(new TtrpcFrame(streamId, type, flags, payload));

        public async Task<TtrpcFrame> ExpectAsync(uint streamId, TtrpcMessageType type, TtrpcFlags flags, string? payload = null)
        {
            var frame = await Reader.ReadAsync().AsTask().WaitAsync(Patience);
            frame.Should().NotBeNull("a frame was expected, not the end of the connection");
            (frame!.StreamId, frame.Type, frame.Flags).Should().Be((streamId, type, flags));
            if (payload is not null)
                Encoding.UTF8.GetString(frame.Payload.Span).Should().Be(payload);
            return frame;
        }

        public async Task<(StatusCode Code, string Message)> ExpectStatusAsync(uint streamId)
        {
            var frame = await ExpectAsync(streamId, TtrpcMessageType.Response, TtrpcFlags.None);
            var status = Response.Parser.ParseFrom(frame.Payload.Span).Status;
            return ((StatusCode)status.Code, status.Message);
        }

        public ValueTask DisposeAsync() => stream.DisposeAsync();
    }
}
