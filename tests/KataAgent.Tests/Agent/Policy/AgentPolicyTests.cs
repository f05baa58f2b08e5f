using System.Text;
using FluentAssertions;
using Google.Protobuf;
using KataAgent.Host;
using KataAgent.Host.Sandboxes;
using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Extensions;
using KataAgent.Testing;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Agent.Policy;

/// <summary>
/// SetPolicy through the published agent (as root, stand-alone): RPCs denied by name, the field
/// rules of CreateContainer and ExecProcess on real containers, Rego and bad documents refused
/// naming the field, SetPolicy itself under the policy, and a boot policy file.
/// </summary>
public sealed class AgentPolicyTests
{
    private static async Task<AgentStatusException> Refused(Func<Task> call, AgentStatusCode code)
    {
        var error = (await call.Should().ThrowAsync<AgentStatusException>()).Which;
        error.StatusCode.Should().Be(code, error.Detail);
        return error;
    }

    [Fact]
    public async Task A_denied_rpc_is_refused_with_permission_denied_naming_it_and_the_others_still_run()
    {
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        (await client.GetMetricsAsync(new GetMetricsRequest())).Metrics_.Should().Contain("kata_agent_scrape_count");

        await client.SetPolicyDocumentAsync("""{ "version": 1, "default": "allow", "rpcs": { "GetMetrics": "deny" } }""");

        var error = await Refused(() => client.GetMetricsAsync(new GetMetricsRequest()), AgentStatusCode.PermissionDenied);
        error.Detail.Should().Be("GetMetrics is blocked by policy: rpcs.GetMetrics is deny");
        (await agent.WaitForOutputAsync("agent policy: grpc.AgentService/GetMetrics refused"))
            .Should().Contain("agent policy: grpc.AgentService/GetMetrics refused: GetMetrics is blocked by policy", "every refusal is logged for audit");
        (await client.GetGuestDetailsAsync(new GuestDetailsRequest())).AgentDetails.Should().NotBeNull("RPCs the policy allows still run");
        (await client.CheckAsync()).Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving, "grpc.Health is never subject to the policy");

        // A new policy replaces the old one whole.
        await client.SetPolicyDocumentAsync("""{ "version": 1, "default": "allow" }""");
        (await client.GetMetricsAsync(new GetMetricsRequest())).Metrics_.Should().NotBeEmpty();
    }

    [Fact]
    public async Task The_policy_holds_whichever_protocol_carries_the_call()
    {
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var grpc = await agent.ConnectAsync();
        await using var ttrpc = await agent.ConnectAsync(new AgentClientOptions { ConnectTimeout = TimeSpan.FromSeconds(20), Protocol = AgentProtocol.Ttrpc });

        // Set over gRPC, enforced over ttrpc: one gate wraps the handlers of both front ends.
        await grpc.SetPolicyDocumentAsync("""{ "version": 1, "default": "allow", "rpcs": { "GetMetrics": "deny" } }""");
        (await Refused(() => ttrpc.GetMetricsAsync(new GetMetricsRequest()), AgentStatusCode.PermissionDenied)).Detail
            .Should().Be("GetMetrics is blocked by policy: rpcs.GetMetrics is deny");
        await ttrpc.GetGuestDetailsAsync(new GuestDetailsRequest());

        // And the other way round, SetPolicy itself included.
        await ttrpc.SetPolicyDocumentAsync("""{ "version": 1, "default": "allow", "rpcs": { "ListRoutes": "deny" } }""");
        (await Refused(() => grpc.ListRoutesAsync(new ListRoutesRequest()), AgentStatusCode.PermissionDenied)).Detail
            .Should().Be("ListRoutes is blocked by policy: rpcs.ListRoutes is deny");
        (await grpc.GetMetricsAsync(new GetMetricsRequest())).Metrics_.Should().NotBeEmpty("the new policy replaced the old one whole");
    }

    [Fact]
    public async Task Default_deny_refuses_every_rpc_not_named_and_can_refuse_setpolicy_itself()
    {
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();

        await client.SetPolicyDocumentAsync("""{ "version": 1, "default": "deny", "rpcs": { "GetGuestDetails": "allow", "SetPolicy": "allow" } }""");
        (await Refused(() => client.ListRoutesAsync(new ListRoutesRequest()), AgentStatusCode.PermissionDenied)).Detail
            .Should().Be("ListRoutes is blocked by policy: default is deny");
        await client.GetGuestDetailsAsync(new GuestDetailsRequest());

        // A policy that denies SetPolicy cannot be replaced: the request is checked against the policy in force.
        await client.SetPolicyDocumentAsync("""{ "version": 1, "default": "allow", "rpcs": { "SetPolicy": "deny" } }""");
        (await Refused(() => client.SetPolicyDocumentAsync("""{ "version": 1, "default": "allow" }"""), AgentStatusCode.PermissionDenied)).Detail
            .Should().Be("SetPolicy is blocked by policy: rpcs.SetPolicy is deny");
        await client.ListRoutesAsync(new ListRoutesRequest());
    }

    [Fact]
    public async Task Rego_is_refused_with_failed_precondition_and_bad_documents_name_the_field_leaving_the_policy_in_force()
    {
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        await client.SetPolicyDocumentAsync("""{ "version": 1, "default": "allow", "rpcs": { "ListRoutes": "deny" } }""");

        const string rego = "# Kata's sample\npackage agent_policy\n\ndefault CreateContainerRequest := true\ndefault ExecProcessRequest := false\n";
        var regoError = await Refused(() => client.SetPolicyDocumentAsync(rego), AgentStatusCode.FailedPrecondition);
        regoError.Detail.Should().StartWith("policy: is a Rego policy").And.Contain("docs/POLICY.md");

        async Task Invalid(string document, string detail) =>
            (await Refused(() => client.SetPolicyDocumentAsync(document), AgentStatusCode.InvalidArgument)).Detail.Should().StartWith(detail);

        await Invalid("""{ "version": 1, "default": "allow", "execProcess": { "comands": ["ls"] } }""", "policy: execProcess.comands: unknown field");
        await Invalid("""{ "version": 1, "default": "allow", "execProcess": { "allowRoot": "no" } }""", "policy: execProcess.allowRoot: expected a boolean");
        await Invalid("""{ "version": 1, "default": "maybe" }""", "policy: default: \"maybe\" is neither \"allow\" nor \"deny\"");
        await Invalid("""{ "version": 1, "default": "allow", "rpcs": { "ExecProces": "deny" } }""", "policy: rpcs.ExecProces: no such RPC");
        await Invalid("""{ "version": 2, "default": "allow" }""", "policy: version: 2 is not a known version");
        await Invalid("""{ "default": "allow" }""", "policy: version: is missing");
        await Invalid("""{ "version": 1, "default": "allow", "createContainer": { "privileged": false, "capabilities": ["CAP_NOPE"] } }""", "policy: createContainer.capabilities[0]: unknown capability");
        await Invalid("""{ "version": 1, "default": "allow", "execProcess": { "commandPatterns": ["(unclosed"] } }""", "policy: execProcess.commandPatterns[0]: is not a valid regular expression");
        await Invalid("""{ "version": 1, "default": "allow" """, "policy: ");
        await Invalid("", "policy: is empty");

        (await Refused(() => client.ListRoutesAsync(new ListRoutesRequest()), AgentStatusCode.PermissionDenied)).Detail
            .Should().Contain("rpcs.ListRoutes", "a refused document leaves the policy in force as it was");
    }

    [Fact]
    public async Task CreateContainer_and_ExecProcess_field_rules_decide_on_real_containers()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        await client.SetPolicyDocumentAsync("""
            {
              "version": 1,
              "default": "allow",
              // comments are allowed
              "createContainer": {
                "images": ["docker.io/library/busybox:*"],
                "annotations": ["io.kubernetes.*"],
                "bindMountSources": ["/run/kata-containers/shared/*"],
                "privileged": false
              },
              "execProcess": {
                "commands": ["ls /bin/sh"],
                "commandPatterns": ["echo [a-z]+"],
                "allowRoot": true,
                "allowTerminal": false,
                "privileged": false
              }
            }
            """);

        Spec Spec(string image, params string[] args)
        {
            var spec = ContainerSpecs.Default(rootfs.Path, args);
            spec.Annotations["io.kubernetes.cri.image-name"] = image;
            return spec;
        }

        var wrongImage = await Refused(() => client.CreateContainerAsync(new CreateContainerRequest { ContainerId = "evil", OCI = Spec("quay.io/evil/miner:1", "sleep", "300") }), AgentStatusCode.PermissionDenied);
        wrongImage.Detail.Should().Be("OCI.Annotations[\"io.kubernetes.cri.image-name\"]: CreateContainer is blocked by policy: createContainer.images does not allow image \"quay.io/evil/miner:1\"");

        var annotated = Spec("docker.io/library/busybox:1.36", "sleep", "300");
        annotated.Annotations["io.katacontainers.config.hypervisor.kernel_params"] = "init=/bin/sh";
        (await Refused(() => client.CreateContainerAsync(new CreateContainerRequest { ContainerId = "a", OCI = annotated }), AgentStatusCode.PermissionDenied)).Detail
            .Should().StartWith("OCI.Annotations[\"io.katacontainers.config.hypervisor.kernel_params\"]: CreateContainer is blocked by policy: createContainer.annotations");

        var hostMount = Spec("docker.io/library/busybox:1.36", "sleep", "300");
        hostMount.Mounts.Add(new Mount { Destination = "/host", Source = "/", Type = "bind", Options = { "rbind" } });
        (await Refused(() => client.CreateContainerAsync(new CreateContainerRequest { ContainerId = "b", OCI = hostMount }), AgentStatusCode.PermissionDenied)).Detail
            .Should().StartWith($"OCI.Mounts[{hostMount.Mounts.Count - 1}].source: CreateContainer is blocked by policy: createContainer.bindMountSources");

        var privileged = Spec("docker.io/library/busybox:1.36", "sleep", "300");
        privileged.Process.Capabilities = new LinuxCapabilities { Bounding = { "CAP_CHOWN", "CAP_SYS_ADMIN" }, Permitted = { "CAP_CHOWN" } };
        (await Refused(() => client.CreateContainerAsync(new CreateContainerRequest { ContainerId = "p", OCI = privileged }), AgentStatusCode.PermissionDenied)).Detail
            .Should().Be("OCI.Process.Capabilities.Bounding[1]: CreateContainer is blocked by policy: createContainer.privileged is false and CAP_SYS_ADMIN is not among the capabilities it allows");

        // What the rules allow runs.
        await client.CreateContainerAsync(new CreateContainerRequest { ContainerId = "web", OCI = Spec("docker.io/library/busybox:1.36", "sleep", "300") });
        await client.StartContainerAsync(new StartContainerRequest { ContainerId = "web" });

        async Task<string> Exec(string execId, params string[] args)
        {
            await client.ExecProcessAsync(new ExecProcessRequest { ContainerId = "web", ExecId = execId, Process = new Process { Args = { args }, Env = { "PATH=/bin" }, Cwd = "/" } });
            (await client.WaitProcessAsync(new WaitProcessRequest { ContainerId = "web", ExecId = execId })).Status.Should().Be(0);
            var output = new StringBuilder();
            while (true)
            {
                ReadStreamResponse chunk;
                try
                {
                    chunk = await client.ReadStdoutAsync(new ReadStreamRequest { ContainerId = "web", ExecId = execId, Len = 4096 });
                }
                catch (AgentStatusException)
                {
                    break;
                }
                if (chunk.Data.IsEmpty)
                {
                    break;
                }
                output.Append(chunk.Data.ToStringUtf8());
            }
            return output.ToString();
        }

        (await Exec("e1", "ls", "/bin/sh")).Should().Be("/bin/sh\n", "an exact command of execProcess.commands runs");
        (await Exec("e2", "echo", "hello")).Should().Be("hello\n", "a command matching execProcess.commandPatterns runs");

        var shell = await Refused(() => client.ExecProcessAsync(new ExecProcessRequest { ContainerId = "web", ExecId = "e3", Process = new Process { Args = { "sh", "-c", "id" }, Cwd = "/" } }), AgentStatusCode.PermissionDenied);
        shell.Detail.Should().Be("process.Args: ExecProcess is blocked by policy: execProcess.commands and execProcess.commandPatterns do not allow \"sh -c id\"");
        var partial = await Refused(() => client.ExecProcessAsync(new ExecProcessRequest { ContainerId = "web", ExecId = "e4", Process = new Process { Args = { "echo", "hello;", "reboot" }, Cwd = "/" } }), AgentStatusCode.PermissionDenied);
        partial.Detail.Should().StartWith("process.Args:", "a pattern must match the whole command line");
        var terminal = await Refused(() => client.ExecProcessAsync(new ExecProcessRequest { ContainerId = "web", ExecId = "e5", Process = new Process { Args = { "echo", "hi" }, Terminal = true, Cwd = "/" } }), AgentStatusCode.PermissionDenied);
        terminal.Detail.Should().Be("process.Terminal: ExecProcess is blocked by policy: execProcess.allowTerminal is false");
        var caps = await Refused(() => client.ExecProcessAsync(new ExecProcessRequest { ContainerId = "web", ExecId = "e6", Process = new Process { Args = { "echo", "hi" }, Cwd = "/", Capabilities = new LinuxCapabilities { Effective = { "CAP_NET_ADMIN" } } } }), AgentStatusCode.PermissionDenied);
        caps.Detail.Should().StartWith("process.Capabilities.Effective[0]: ExecProcess is blocked by policy: execProcess.privileged is false");

        await client.SignalProcessAsync(new SignalProcessRequest { ContainerId = "web", Signal = 9 });
        await client.WaitProcessAsync(new WaitProcessRequest { ContainerId = "web" });
        await client.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = "web", Timeout = 10 });
    }

    [Fact]
    public async Task Attach_is_held_to_the_stdio_rules_so_it_is_no_way_around_them()
    {
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        await client.SetPolicyDocumentAsync("""{ "version": 1, "default": "allow", "rpcs": { "ReadStdout": "deny" } }""");

        var streaming = new Streaming.StreamingClient(client.CallInvoker);
        using var call = streaming.Attach();
        var attach = async () =>
        {
            // The client sends first, as a real one does. The call is refused as it starts: the write reports the
            // refusal if the client has read it by then, else the write is dropped (the agent has answered and said
            // RST_STREAM NO_ERROR) and the read reports it. Never CANCELLED (AnsweredCallInvoker).
            await call.RequestStream.WriteAsync(new AttachRequest { Start = new AttachStart { ContainerId = "none" } });
            await call.ResponseStream.MoveNext(CancellationToken.None);
        };
        var error = (await attach.Should().ThrowAsync<Grpc.Core.RpcException>()).Which;
        error.StatusCode.Should().Be(Grpc.Core.StatusCode.PermissionDenied);
        error.Status.Detail.Should().Be("Attach is blocked by policy: rpcs.ReadStdout is deny (it does what ReadStdout does)");
    }

    [Fact]
    public async Task A_boot_policy_file_is_in_force_from_the_first_call_and_a_broken_one_closes_the_door_but_to_setpolicy()
    {
        using var directory = new TempDirectory();
        string good = directory.File("policy.json");
        await File.WriteAllTextAsync(good, """{ "version": 1, "default": "allow", "rpcs": { "ListInterfaces": "deny" } }""");
        await using (var agent = AgentProcess.StartOnUnixSocket(new Dictionary<string, string?> { ["KATA_AGENT_POLICY_FILE"] = good }))
        await using (var client = await agent.ConnectAsync())
        {
            await Refused(() => client.ListInterfacesAsync(new ListInterfacesRequest()), AgentStatusCode.PermissionDenied);
            await client.ListRoutesAsync(new ListRoutesRequest());
        }

        string broken = directory.File("broken.json");
        await File.WriteAllTextAsync(broken, """{ "version": 1, "default": "allow", "rpcs": { "ListInterfacez": "deny" } }""");
        await using (var agent = AgentProcess.StartOnUnixSocket(new Dictionary<string, string?> { ["KATA_AGENT_POLICY_FILE"] = broken }))
        await using (var client = await agent.ConnectAsync())
        {
            (await Refused(() => client.ListRoutesAsync(new ListRoutesRequest()), AgentStatusCode.PermissionDenied)).Detail.Should().Be("ListRoutes is blocked by policy: default is deny");
            agent.Output.Should().Contain("rpcs.ListInterfacez: no such RPC");
            await client.SetPolicyDocumentAsync("""{ "version": 1, "default": "allow" }""");
            await client.ListRoutesAsync(new ListRoutesRequest());
        }

        await using (var agent = AgentProcess.StartOnUnixSocket(new Dictionary<string, string?> { ["KATA_AGENT_POLICY_FILE"] = directory.File("missing.json") }))
        await using (var client = await agent.ConnectAsync())
        {
            await Refused(() => client.ListRoutesAsync(new ListRoutesRequest()), AgentStatusCode.PermissionDenied);
        }
    }
}
