using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using KataAgent.Agent.Config;
using KataAgent.Agent.Containers;
using KataAgent.Agent.Containers.Processes;
using KataAgent.Agent.DebugConsole;
using KataAgent.Agent.Files;
using KataAgent.Agent.Firewall;
using KataAgent.Agent.Footprint;
using KataAgent.Agent.Processes;
using KataAgent.Agent.Guest;
using KataAgent.Agent.Images;
using KataAgent.Agent.Guest.Hotplug;
using KataAgent.Agent.Guest.Swap;
using KataAgent.Agent.Guest.Metrics;
using KataAgent.Agent.Interop;
using KataAgent.Agent.Logging;
using KataAgent.Agent.MemAgent;
using KataAgent.Agent.Network;
using KataAgent.Agent.Pods;
using KataAgent.Agent.PodVolumes;
using KataAgent.Agent.Policy;
using KataAgent.Agent.Sandbox;
using KataAgent.Agent.Server.Binding;
using KataAgent.Agent.Server.Protocols;
using KataAgent.Agent.Server.Ttrpc;
using KataAgent.Agent.Storage;
using KataAgent.Agent.Transport;
using KataAgent.Linux.Addressing;
using KataAgent.Agent.Devices;
using KataAgent.Agent.Diagnostics;
using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Extensions;
using KataAgent.Protocols.Guest.ImagePull;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using KataAgent.Linux.Interop;

namespace KataAgent.Agent.Server;

/// <summary>
/// Kestrel serving grpc.AgentService, grpc.Health and kataagent.v1 on the configured address, over gRPC (cleartext
/// HTTP/2) and ttrpc alike: <see cref="ProtocolSelector"/> picks the protocol per connection by its first bytes.
/// </summary>
public static class AgentServer
{
    /// <summary>Builds the web application for <paramref name="config"/> (not started).</summary>
    public static WebApplication Build(AgentConfig config)
    {
        // The agent is configured by its command line and the kernel's, never by an appsettings.json beside it, so
        // nothing watches for one to change: that watch is an inotify thread on the binary's directory (/ in a guest).
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = ["--hostBuilder:reloadConfigOnChange=false"],
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(options =>
        {
            options.SingleLine = true;
            options.TimestampFormat = "HH:mm:ss.fff ";
            options.UseUtcTimestamp = true;
        });
        var logChannel = new LogChannel(config.LogPortAddress, config.LogListenAddress);
        builder.Logging.AddProvider(new LogChannelLoggerProvider(logChannel));
        builder.Services.AddSingleton(logChannel);
        builder.Logging.AddFilter((category, level) =>
            // Hosting diagnostics logging, when enabled, makes ASP.NET create an Activity per
            // request, whose static constructor needs the CRNG: early in a guest's boot that can
            // fail every request. The agent logs its own RPC failures instead.
            // Grpc.AspNetCore logs every status it sends at information; the agent logs each failure
            // once itself (AgentErrorMapping, and the binder for requests that do not parse).
            category != "Microsoft.AspNetCore.Hosting.Diagnostics"
            && level >= (IsFramework(category) ? Max(config.LogLevel, LogLevel.Warning) : config.LogLevel));
        builder.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);

        // The socket transport (unix, tcp) hands each read to the thread pool before the connection's code sees it;
        // both front ends already move every call off the reading loop (HTTP/2 per stream, ttrpc per request), so
        // that extra hop only adds latency to every round trip.
        builder.WebHost.UseSockets(sockets => sockets.UnsafePreferInlineScheduling = true);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            Listen(kestrel, config.ServerAddress, listen =>
            {
                listen.Protocols = HttpProtocols.Http2;
                var services = listen.ApplicationServices;
                var ttrpc = new Lazy<TtrpcFrontEnd>(services.GetRequiredService<TtrpcFrontEnd>);
                var logger = services.GetRequiredService<ILogger<ProtocolSelector>>();
                listen.Use(http2 => new ProtocolSelector(http2, () => ttrpc.Value, logger).OnConnectionAsync);
            });
        });

        builder.Services.AddSingleton<IConnectionListenerFactory, AgentTransportFactory>();
        builder.Services.AddSingleton(new MetricsCollector());
        builder.Services.AddSingleton(new GuestSystem());
        builder.Services.AddSingleton<ProcessReaper>();
        builder.Services.AddSingleton<ContainerStartGuard>();
        builder.Services.AddSingleton<ContainerManager>();
        builder.Services.AddSingleton<SandboxNamespaces>();
        builder.Services.AddSingleton<SandboxPause>();
        builder.Services.AddSingleton(config);
        builder.Services.AddSingleton(services => new GuestImages(
            new GuestPullRunner(services.GetRequiredService<ToolRunner>(), GuestPullHelper.Path, GuestPullRunner.DefaultTimeout, services.GetRequiredService<ILogger<GuestPullRunner>>()),
            new BlockDeviceLocator(new PciSysfs(config.SysfsRoot), "/dev", services.GetRequiredService<ILogger<GuestImages>>()),
            config.HotplugTimeout,
            services.GetRequiredService<ILogger<GuestImages>>(),
            registryAuth: config.ImageRegistryAuth));
        builder.Services.AddSingleton<StorageManager>();
        builder.Services.AddSingleton(new FileCopier());
        builder.Services.AddSingleton<SandboxManager>();
        builder.Services.AddSingleton<GuestHotplug>();
        builder.Services.AddSingleton<GuestVolumes>();
        builder.Services.AddSingleton<StartGateRunner>();
        builder.Services.AddSingleton<PodManager>();
        builder.Services.AddSingleton<SwapActivator>();
        builder.Services.AddSingleton<AgentPolicy>();
        builder.Services.AddSingleton<PolicyGate>();
        builder.Services.AddSingleton<ToolRunner>();
        builder.Services.AddSingleton(services => new IpTables(services.GetRequiredService<ToolRunner>()));
        builder.Services.AddSingleton<MemAgentService>();
        builder.Services.AddSingleton<DiagnosticData>();
        builder.Services.AddHostedService(services => services.GetRequiredService<MemAgentService>());
        builder.Services.AddHostedService<DebugConsoleService>();
        builder.Services.AddHostedService<HeapTrimmer>();
        builder.Services.AddSingleton(services => new GuestNetwork(services.GetRequiredService<ILogger<GuestNetwork>>(), config.HotplugTimeout, new PciNetInterfaceLocator(new PciSysfs(config.SysfsRoot))));
        builder.Services.AddGrpc(options =>
        {
            options.MaxReceiveMessageSize = config.MaxReceiveMessageSize;
            options.Interceptors.Add<RpcErrorInterceptor>();
        });
        // Our binder registers every method (a request that does not parse is INVALID_ARGUMENT);
        // Grpc.AspNetCore's would register each a second time.
        builder.Services.RemoveAll(typeof(IServiceMethodProvider<>));
        var ttrpcBindings = new List<Action<ServiceBinderBase, IServiceProvider>>();
        AddService<HealthService>(builder.Services, Health.BindService, ttrpcBindings);
        AddService<AgentRpcService>(builder.Services, AgentService.BindService, ttrpcBindings);
        AddService<StreamingService>(builder.Services, Streaming.BindService, ttrpcBindings);
        AddService<ImagesService>(builder.Services, global::KataAgent.Protocols.Extensions.Images.BindService, ttrpcBindings);
        AddService<PodsService>(builder.Services, global::KataAgent.Protocols.Extensions.Pods.BindService, ttrpcBindings);
        builder.Services.AddSingleton(provider => new TtrpcFrontEnd(
            binder => ttrpcBindings.ForEach(bind => bind(binder, provider)), provider.GetRequiredService<PolicyGate>(), config.MaxReceiveMessageSize, provider.GetRequiredService<ILogger<TtrpcFrontEnd>>()));

        var app = builder.Build();
        app.MapGrpcService<HealthService>();
        app.MapGrpcService<AgentRpcService>();
        app.MapGrpcService<StreamingService>();
        app.MapGrpcService<ImagesService>();
        app.MapGrpcService<PodsService>();
        // The reaper must be running before the first container starts.
        app.Services.GetRequiredService<ProcessReaper>();
        // The boot policy is in force before the first call is served.
        if (config.PolicyFile is { } policyFile && (config.PolicyFileRequired || File.Exists(policyFile)))
        {
            app.Services.GetRequiredService<AgentPolicy>().LoadBootPolicy(policyFile);
        }
        return app;
    }

    private static LogLevel Max(LogLevel a, LogLevel b) => a > b ? a : b;

    private static bool IsFramework(string? category) =>
        category is not null && (category.StartsWith("Microsoft.", StringComparison.Ordinal) || category.StartsWith("Grpc.", StringComparison.Ordinal));

    /// <summary>
    /// One instance of <typeparamref name="TService"/> serves every call over both protocols, its methods bound by
    /// <paramref name="bindService"/>: for gRPC now, for ttrpc through <paramref name="ttrpcBindings"/>.
    /// </summary>
    private static void AddService<[DynamicallyAccessedMembers(ParsedRequestServiceBinder<object>.ServiceAccessibility)] TService>(
        IServiceCollection services, Action<ServiceBinderBase, TService> bindService, List<Action<ServiceBinderBase, IServiceProvider>> ttrpcBindings)
        where TService : class
    {
        services.AddSingleton<TService>();
        ttrpcBindings.Add((binder, provider) => bindService(binder, provider.GetRequiredService<TService>()));
        services.AddSingleton<IServiceMethodProvider<TService>>(provider => new ParsedRequestServiceMethodProvider<TService>(
            provider.GetRequiredService<TService>(), bindService, provider.GetRequiredService<PolicyGate>(), provider.GetRequiredService<ILogger<ParsedRequestServiceMethodProvider<TService>>>()));
    }

    private static void Listen(KestrelServerOptions kestrel, AgentAddress address, Action<ListenOptions> configure)
    {
        switch (address.Kind)
        {
            case AgentAddressKind.Unix:
                if (address.IsAbstractUnix)
                {
                    kestrel.Listen(new UnixDomainSocketEndPoint("\0" + address.Path![1..]), configure);
                }
                else
                {
                    RemoveStaleSocket(address.Path!);
                    kestrel.ListenUnixSocket(address.Path!, configure);
                }
                break;
            case AgentAddressKind.Tcp:
                kestrel.Listen(new IPEndPoint(address.Host!, (int)address.Port), configure);
                break;
            case AgentAddressKind.Vsock:
                kestrel.Listen(new VsockEndPoint(address), configure);
                break;
            case AgentAddressKind.Serial:
                kestrel.Listen(new SerialEndPoint(address), configure);
                break;
            default:
                throw new AgentConfigException($"{address}: the agent cannot serve on a {address.Kind} address; use vsock://, serial://, unix:// or tcp://");
        }
    }

    /// <summary>
    /// A socket file left by an agent that died keeps bind from working. Remove it only when
    /// nothing answers on it, so a second agent never steals a live one's address.
    /// </summary>
    private static void RemoveStaleSocket(string path)
    {
        int? type = Libc.FileType(path);
        if (type is null)
        {
            return;
        }
        if (type != Libc.S_IFSOCK)
        {
            throw new AgentConfigException($"unix://{path}: the path exists and is not a socket");
        }
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            File.Delete(path);
            return;
        }
        throw new AgentConfigException($"unix://{path}: another process is serving on this socket");
    }
}
