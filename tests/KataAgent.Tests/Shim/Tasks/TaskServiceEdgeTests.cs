using FluentAssertions;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using KataAgent.Protocols.Containerd.Task;
using KataAgent.Protocols.Ttrpc;
using KataAgent.Shim.Cli;
using KataAgent.Shim.Config;
using KataAgent.Shim.Tasks;
using KataAgent.Testing;
using KataAgent.Tests.Ttrpc;
using Xunit;

namespace KataAgent.Tests.Shim.Tasks;

/// <summary>
/// The task service's answers that need no VM, over a real ttrpc connection: the gRPC codes containerd maps
/// (NotFound for unknown ids, InvalidArgument naming the field, FailedPrecondition, Unimplemented) and Shutdown.
/// </summary>
public sealed class TaskServiceEdgeTests : IAsyncLifetime
{
    private readonly TempDirectory _temp = new();
    private readonly RecordingEventPublisher _events = new();
    private readonly RecordingShimLifetime _lifetime = new();
    private TtrpcTestServer _server = null!;
    private TtrpcClient _client = null!;

    public async Task InitializeAsync()
    {
        var service = new TaskService(new ShimArguments { Namespace = "edge", Id = "c1", Bundle = _temp.Path }, _events, _lifetime)
        {
            LoadConfiguration = _ => throw new ShimConfigurationException("/etc/none.json", "kernel is required (the guest kernel to boot)"),
        };
        var server = new TtrpcServer();
        service.Register(server);
        _server = new TtrpcTestServer(server);
        _client = await _server.ConnectClientAsync();
    }

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync();
        await _server.DisposeAsync();
        _temp.Dispose();
    }

    private Task<TResponse> Call<TResponse>(string method, IMessage request, MessageParser<TResponse> parser)
        where TResponse : IMessage<TResponse> =>
        _client.CallAsync(TaskService.ServiceName, method, request, parser, TimeSpan.FromSeconds(20));

    [Fact]
    public async Task Unknown_tasks_are_NotFound_for_every_call_that_names_one()
    {
        foreach (var (method, request) in new (string, IMessage)[]
        {
            ("State", new StateRequest { Id = "nosuch" }),
            ("Start", new StartRequest { Id = "nosuch" }),
            ("Delete", new DeleteRequest { Id = "nosuch" }),
            ("Kill", new KillRequest { Id = "nosuch", Signal = 9 }),
            ("Wait", new WaitRequest { Id = "nosuch" }),
            ("Pids", new PidsRequest { Id = "nosuch" }),
            ("Pause", new PauseRequest { Id = "nosuch" }),
            ("Stats", new StatsRequest { Id = "nosuch" }),
            ("Checkpoint", new CheckpointTaskRequest { Id = "nosuch" }),
            ("Exec", new ExecProcessRequest { Id = "nosuch", ExecId = "e1" }),
        })
        {
            var call = () => _client.CallRawAsync(TaskService.ServiceName, method, request.ToByteString(), TimeSpan.FromSeconds(20));
            (await call.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.NotFound, method);
        }
    }

    [Fact]
    public async Task Create_refuses_a_bad_id_a_relative_bundle_a_checkpoint_and_a_container_whose_sandbox_is_elsewhere()
    {
        string bundle = _temp.CreateDirectory("b1");
        await Expect(StatusCode.InvalidArgument, "id", () => Call("Create", new CreateTaskRequest { Id = "../x", Bundle = bundle }, CreateTaskResponse.Parser));
        await Expect(StatusCode.InvalidArgument, "bundle", () => Call("Create", new CreateTaskRequest { Id = "c1", Bundle = "relative/b1" }, CreateTaskResponse.Parser));
        await Expect(StatusCode.InvalidArgument, "stdout", () => Call("Create", new CreateTaskRequest { Id = "c1", Bundle = bundle, Stdout = "c1-stdout" }, CreateTaskResponse.Parser));
        await Expect(StatusCode.Unimplemented, "checkpoint", () => Call("Create", new CreateTaskRequest { Id = "c1", Bundle = bundle, Checkpoint = "/tmp/cp" }, CreateTaskResponse.Parser));
        await Expect(StatusCode.InvalidArgument, "config.json", () => Call("Create", new CreateTaskRequest { Id = "c1", Bundle = bundle }, CreateTaskResponse.Parser));

        File.WriteAllText(Path.Combine(bundle, "config.json"), """
            { "ociVersion": "1.0.2", "root": { "path": "rootfs" }, "process": { "args": ["sh"], "cwd": "/" },
              "annotations": { "io.kubernetes.cri.container-type": "container", "io.kubernetes.cri.sandbox-id": "pod1" } }
            """);
        await Expect(StatusCode.FailedPrecondition, "sandbox pod1", () => Call("Create", new CreateTaskRequest { Id = "c1", Bundle = bundle }, CreateTaskResponse.Parser));
    }

    [Fact]
    public async Task A_sandbox_without_a_configuration_fails_naming_the_file_and_field_and_leaves_nothing()
    {
        string bundle = _temp.CreateDirectory("pod1");
        File.WriteAllText(Path.Combine(bundle, "config.json"), """
            { "ociVersion": "1.0.2", "root": { "path": "rootfs" }, "process": { "args": ["/pause"], "cwd": "/" },
              "annotations": { "io.kubernetes.cri.container-type": "sandbox", "io.kubernetes.cri.sandbox-id": "pod1" } }
            """);

        await Expect(StatusCode.FailedPrecondition, "/etc/none.json: kernel is required", () => Call("Create", new CreateTaskRequest { Id = "pod1", Bundle = bundle }, CreateTaskResponse.Parser));

        File.Exists(Path.Combine(bundle, BundleState.FileName)).Should().BeFalse();
        await Expect(StatusCode.NotFound, "pod1", () => Call("State", new StateRequest { Id = "pod1" }, StateResponse.Parser));
        _events.Events.Should().BeEmpty();
    }

    [Fact]
    public async Task Connect_answers_the_shim_pid_and_Shutdown_with_no_task_ends_the_daemon()
    {
        var connect = await Call("Connect", new ConnectRequest(), ConnectResponse.Parser);
        connect.ShimPid.Should().Be((uint)Environment.ProcessId);

        await Call("Shutdown", new ShutdownRequest { Id = "c1" }, Empty.Parser);

        _lifetime.ExitRequests.Should().Be(1);
    }

    private static async Task Expect(StatusCode code, string inMessage, Func<Task> call)
    {
        var error = (await call.Should().ThrowAsync<RpcException>()).Which;
        error.StatusCode.Should().Be(code, error.Status.Detail);
        error.Status.Detail.Should().Contain(inMessage);
    }
}
