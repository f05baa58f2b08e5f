using FluentAssertions;
using Grpc.Core;
using KataAgent.Host;
using KataAgent.Host.Transport;
using KataAgent.Linux.Addressing;
using KataAgent.Protocols.Extensions;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Agent;

/// <summary>
/// A streaming call the published agent refuses as it starts (Attach denied by the policy), with the client's first
/// message already on its way: what the agent puts on the wire, and that the host library reports the refusal, never
/// CANCELLED (docs/AGENT.md "Protocols", "A call refused at its start").
/// </summary>
public sealed class RefusedStreamingCallTests
{
    private const string DenyReadStdout = """{ "version": 1, "default": "allow", "rpcs": { "ReadStdout": "deny" } }""";
    private const string Refusal = "Attach is blocked by policy: rpcs.ReadStdout is deny (it does what ReadStdout does)";
    private static readonly AttachRequest Start = new() { Start = new AttachStart { ContainerId = "none" } };

    [Fact]
    public async Task The_agent_answers_with_the_status_and_END_STREAM_before_it_resets_the_stream_with_NO_ERROR()
    {
        await using var agent = AgentProcess.StartOnUnixSocket();
        var options = new AgentClientOptions { Protocol = AgentProtocol.Grpc, ConnectTimeout = TimeSpan.FromSeconds(20) };
        var recorder = new Http2RecordingConnector(AgentConnectors.For(AgentAddress.Parse(agent.Address), options));
        await using var client = await AgentClient.ConnectAsync(recorder, options);
        await client.SetPolicyDocumentAsync(DenyReadStdout);

        int before = recorder.Frames.Count;
        using var call = new Streaming.StreamingClient(client.CallInvoker).Attach();
        var attach = async () =>
        {
            await call.RequestStream.WriteAsync(Start);
            await call.ResponseStream.MoveNext(CancellationToken.None);
        };
        // Which status the client library makes of it is the next test's business; this one reads the wire.
        await attach.Should().ThrowAsync<RpcException>();

        int stream = recorder.Frames.Skip(before).First(f => !f.FromAgent && f.Type == Http2Frame.Headers).StreamId;
        var frames = await recorder.WaitForFrameAsync(f => f.FromAgent && f.StreamId == stream && f.Type == Http2Frame.RstStream, TimeSpan.FromSeconds(10));
        var answer = frames.Where(f => f.FromAgent && f.StreamId == stream).ToList();
        answer.Select(f => f.Type).Should().Equal([Http2Frame.Headers, Http2Frame.RstStream], "one HEADERS frame with the status (trailers-only), then the reset");
        (answer[0].Flags & (Http2Frame.EndStream | Http2Frame.EndHeaders)).Should().Be(Http2Frame.EndStream | Http2Frame.EndHeaders, "the whole answer, and the end of the response");
        answer[1].ErrorCode.Should().Be(0, "NO_ERROR: the agent has answered and needs no more of the request (RFC 9113 §8.1)");

        // Every header block the agent sent, in order, through one decoder: HPACK's dynamic table is the connection's.
        var decoder = new HpackDecoder();
        IReadOnlyList<(string Name, string Value)> fields = [];
        foreach (var headers in frames.Where(f => f.FromAgent && f.Type == Http2Frame.Headers))
        {
            (headers.Flags & Http2Frame.EndHeaders).Should().NotBe(0, "the agent's header blocks fit one frame");
            var decoded = decoder.Decode(headers.HeaderBlockFragment);
            if (headers.StreamId == stream)
            {
                fields = decoded;
            }
        }
        fields.Should().Contain((":status", "200"));
        fields.Should().Contain(("grpc-status", ((int)StatusCode.PermissionDenied).ToString()));
        // Printable ASCII without '%': gRPC's percent-encoding of grpc-message leaves it as it is.
        fields.Should().Contain(("grpc-message", Refusal));
    }

    [Fact]
    public async Task Refused_calls_whose_first_message_crosses_the_refusal_all_report_it()
    {
        // Each call's write races the agent's answer; before AnsweredCallInvoker about one in a hundred (one run in
        // four of the test that sends once) failed as CANCELLED. A hundred of them stay under Kestrel's limit on
        // streams it still tracks after resetting them (MaxTrackedStreams, 200 in its 5 s drain window).
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        await client.SetPolicyDocumentAsync(DenyReadStdout);
        var streaming = new Streaming.StreamingClient(client.CallInvoker);

        var outcomes = new List<string>();
        for (int i = 0; i < 100; i++)
        {
            using var call = streaming.Attach();
            try
            {
                await call.RequestStream.WriteAsync(Start);
                await call.ResponseStream.MoveNext(CancellationToken.None);
                outcomes.Add("no error");
            }
            catch (RpcException e)
            {
                outcomes.Add($"{e.StatusCode}: {e.Status.Detail}");
            }
        }

        outcomes.Should().AllBe($"{StatusCode.PermissionDenied}: {Refusal}");
    }
}
