using KataAgent.Agent.Config;
using KataAgent.Agent.Containers;
using KataAgent.Agent.Containers.Processes;
using KataAgent.Agent.DebugConsole;
using KataAgent.Agent.Devices;
using KataAgent.Agent.Diagnostics;
using KataAgent.Agent.Files;
using KataAgent.Agent.Firewall;
using KataAgent.Agent.Footprint;
using KataAgent.Agent.Guest;
using KataAgent.Agent.Guest.Hotplug;
using KataAgent.Agent.Guest.Metrics;
using KataAgent.Agent.Guest.Swap;
using KataAgent.Agent.Images;
using KataAgent.Agent.Logging;
using KataAgent.Agent.MemAgent;
using KataAgent.Agent.Network;
using KataAgent.Agent.Pods;
using KataAgent.Agent.PodVolumes;
using KataAgent.Agent.Policy;
using KataAgent.Agent.Processes;
using KataAgent.Agent.Sandbox;
using KataAgent.Agent.Server.Binding;
using KataAgent.Agent.Server.Ttrpc;
using KataAgent.Agent.Storage;
using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Extensions;
using KataAgent.Protocols.Guest.ImagePull;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Server.Hosting;

/// <summary>
/// Everything the agent is, without a web host: logging, every subsystem, the RPC services and the ttrpc front end,
/// in one plain service provider, and the background services (mem-agent, debug console, heap trimmer) it starts and
/// stops itself. The gRPC front end (<see cref="GrpcHost.LazyGrpcHost"/>) is built on the first HTTP/2 connection
/// from these same instances; a guest whose host speaks only ttrpc never builds it.
/// </summary>
internal sealed class AgentCore : IAsyncDisposable
{
    /// <summary>The agent's RPC services, in the order both front ends bind them.</summary>
    internal static readonly IAgentRpcBinding[] RpcServices =
    [
        new AgentRpcBinding<HealthService>(Health.BindService),
        new AgentRpcBinding<AgentRpcService>(AgentService.BindService),
        new AgentRpcBinding<StreamingService>(Streaming.BindService),
        new AgentRpcBinding<ImagesService>(global::KataAgent.Protocols.Extensions.Images.BindService),
        new AgentRpcBinding<PodsService>(global::KataAgent.Protocols.Extensions.Pods.BindService),
    ];

    private readonly ServiceProvider _services;
    private readonly Lazy<TtrpcFrontEnd> _ttrpc;
    private IHostedService[] _started = [];

    private AgentCore(AgentConfig config, ServiceProvider services)
    {
        Config = config;
        _services = services;
        Lifetime = services.GetRequiredService<AgentLifetime>();
        LogChannel = services.GetRequiredService<LogChannel>();
        LoggerFactory = services.GetRequiredService<ILoggerFactory>();
        _ttrpc = new Lazy<TtrpcFrontEnd>(services.GetRequiredService<TtrpcFrontEnd>);
    }

    /// <summary>The configuration the agent runs with.</summary>
    public AgentConfig Config { get; }

    /// <summary>Every singleton of the agent.</summary>
    public IServiceProvider Services => _services;

    /// <summary>Asked to stop by DestroySandbox and the signals; waited for by the entry point.</summary>
    public AgentLifetime Lifetime { get; }

    /// <summary>The log lines' second destination (besides stderr).</summary>
    public LogChannel LogChannel { get; }

    /// <summary>The agent's one logger factory (the web host logs through it too).</summary>
    public ILoggerFactory LoggerFactory { get; }

    /// <summary>The ttrpc front end, with every service bound, built on the first ttrpc connection.</summary>
    public TtrpcFrontEnd Ttrpc => _ttrpc.Value;

    /// <summary>Builds the core for <paramref name="config"/>: the reaper runs and the boot policy is in force once it returns.</summary>
    public static AgentCore Build(AgentConfig config)
    {
        var services = new ServiceCollection();
        var logChannel = new LogChannel(config.LogPortAddress, config.LogListenAddress);
        services.AddSingleton(logChannel);
        services.AddLogging(logging => AgentLogging.Configure(logging, config, logChannel));
        services.AddSingleton(config);
        services.AddSingleton<AgentLifetime>();
        services.AddSingleton(new MetricsCollector());
        services.AddSingleton(new GuestSystem());
        services.AddSingleton<ProcessReaper>();
        services.AddSingleton<ContainerStartGuard>();
        services.AddSingleton<ContainerManager>();
        services.AddSingleton<SandboxNamespaces>();
        services.AddSingleton<SandboxPause>();
        services.AddSingleton(provider => new GuestImages(
            new GuestPullRunner(provider.GetRequiredService<ToolRunner>(), GuestPullHelper.Path, GuestPullRunner.DefaultTimeout, provider.GetRequiredService<ILogger<GuestPullRunner>>()),
            new BlockDeviceLocator(new PciSysfs(config.SysfsRoot), "/dev", provider.GetRequiredService<ILogger<GuestImages>>()),
            config.HotplugTimeout,
            provider.GetRequiredService<ILogger<GuestImages>>(),
            registryAuth: config.ImageRegistryAuth));
        services.AddSingleton<StorageManager>();
        services.AddSingleton(new FileCopier());
        services.AddSingleton<SandboxManager>();
        services.AddSingleton<GuestHotplug>();
        services.AddSingleton<GuestVolumes>();
        services.AddSingleton<StartGateRunner>();
        services.AddSingleton<PodManager>();
        services.AddSingleton<SwapActivator>();
        services.AddSingleton<AgentPolicy>();
        services.AddSingleton<PolicyGate>();
        services.AddSingleton<ToolRunner>();
        services.AddSingleton(provider => new IpTables(provider.GetRequiredService<ToolRunner>()));
        services.AddSingleton<MemAgentService>();
        services.AddSingleton<DiagnosticData>();
        services.AddSingleton(provider => new GuestNetwork(provider.GetRequiredService<ILogger<GuestNetwork>>(), config.HotplugTimeout, new PciNetInterfaceLocator(new PciSysfs(config.SysfsRoot))));
        services.AddHostedService(provider => provider.GetRequiredService<MemAgentService>());
        services.AddHostedService<DebugConsoleService>();
        services.AddHostedService<HeapTrimmer>();
        services.AddSingleton<HealthService>();
        services.AddSingleton<AgentRpcService>();
        services.AddSingleton<StreamingService>();
        services.AddSingleton<ImagesService>();
        services.AddSingleton<PodsService>();
        services.AddSingleton(provider => new TtrpcFrontEnd(
            binder => Array.ForEach(RpcServices, service => service.BindTtrpc(binder, provider)),
            provider.GetRequiredService<PolicyGate>(), config.MaxReceiveMessageSize, provider.GetRequiredService<ILogger<TtrpcFrontEnd>>()));

        var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = false, ValidateScopes = false });
        try
        {
            // The reaper must be running before the first container starts.
            provider.GetRequiredService<ProcessReaper>();
            // The boot policy is in force before the first call is served.
            if (config.PolicyFile is { } policyFile && (config.PolicyFileRequired || File.Exists(policyFile)))
            {
                provider.GetRequiredService<AgentPolicy>().LoadBootPolicy(policyFile);
            }
            return new AgentCore(config, provider);
        }
        catch
        {
            provider.Dispose();
            throw;
        }
    }

    /// <summary>Starts the background services, in order.</summary>
    public async Task StartBackgroundServicesAsync(CancellationToken cancellationToken)
    {
        var started = new List<IHostedService>();
        try
        {
            foreach (var service in _services.GetServices<IHostedService>())
            {
                await service.StartAsync(cancellationToken).ConfigureAwait(false);
                started.Add(service);
            }
        }
        finally
        {
            _started = [.. started];
        }
    }

    /// <summary>Stops the background services that started, last first; a failure is logged and the rest still stop.</summary>
    public async Task StopBackgroundServicesAsync(CancellationToken cancellationToken)
    {
        var logger = LoggerFactory.CreateLogger("kata-agent");
        for (int i = _started.Length - 1; i >= 0; i--)
        {
            try
            {
                await _started[i].StopAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                logger.LogWarning("stopping {Service}: {Error}", _started[i].GetType().Name, e.Message);
            }
        }
        _started = [];
    }

    /// <summary>Disposes every singleton; disposing the logger factory flushes the console logger's queue.</summary>
    public ValueTask DisposeAsync() => _services.DisposeAsync();
}
