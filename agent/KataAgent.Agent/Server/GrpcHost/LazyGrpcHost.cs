using System.Diagnostics;
using Grpc.AspNetCore.Server.Model;
using KataAgent.Agent.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Server.GrpcHost;

/// <summary>
/// The gRPC front end, built when the first HTTP/2 connection arrives: an ASP.NET Core web host whose Kestrel has no
/// transport of its own but the <see cref="HandoffConnectionListener"/> the agent's listener feeds, and whose gRPC
/// services are the core's instances. Building and starting it is most of what the agent used to do before it could
/// answer anything (docs/BENCHMARKS.md, issue 16); a host that speaks only ttrpc never pays it. Built once: callers
/// racing for the first start wait for the one that builds.
/// </summary>
internal sealed class LazyGrpcHost(AgentCore core, ILogger logger)
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private HandoffConnectionListener? _listener;
    private WebApplication? _app;
    private bool _stopped;

    /// <summary>
    /// Gives <paramref name="connection"/> (its first bytes still unconsumed) to Kestrel, starting the web host if this
    /// is the first; false when the agent is stopping or the host could not start, and the caller still owns it.
    /// </summary>
    public async Task<bool> ServeAsync(ConnectionContext connection)
    {
        var listener = Volatile.Read(ref _listener) ?? await StartAsync().ConfigureAwait(false);
        return listener is not null && listener.TryHandOff(connection);
    }

    /// <summary>Stops Kestrel if it was started (HTTP/2 connections get GOAWAY and their calls finish until <paramref name="cancellationToken"/>), and no later connection starts it.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        WebApplication? app;
        await _gate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            _stopped = true;
            app = _app;
            _app = null;
        }
        finally
        {
            _gate.Release();
        }
        if (app is not null)
        {
            await app.StopAsync(cancellationToken).ConfigureAwait(false);
            await app.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task<HandoffConnectionListener?> StartAsync()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        WebApplication? app = null;
        try
        {
            if (_stopped || _listener is not null)
            {
                return _listener;
            }
            long start = Stopwatch.GetTimestamp();
            var listener = new HandoffConnectionListener(new HandoffEndPoint(core.Config.ServerAddress));
            app = Build(listener);
            await app.StartAsync().ConfigureAwait(false);
            _app = app;
            Volatile.Write(ref _listener, listener);
            logger.LogDebug("gRPC server started on the first HTTP/2 connection in {Milliseconds:0} ms", Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            return listener;
        }
        catch (Exception e)
        {
            // The agent keeps serving ttrpc; the next HTTP/2 connection tries again.
            logger.LogError("cannot start the gRPC server: {Error}", e);
            if (app is not null)
            {
                await app.DisposeAsync().ConfigureAwait(false);
            }
            return null;
        }
        finally
        {
            _gate.Release();
        }
    }

    private WebApplication Build(HandoffConnectionListener listener)
    {
        // The agent is configured by its command line and the kernel's, never by an appsettings.json beside it, so
        // nothing watches for one to change: that watch is an inotify thread on the binary's directory (/ in a guest).
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = ["--hostBuilder:reloadConfigOnChange=false"],
            ContentRootPath = AppContext.BaseDirectory,
        });
        // One logging setup for the whole agent: the core's factory, its filter and its providers.
        builder.Logging.ClearProviders();
        builder.Services.Replace(ServiceDescriptor.Singleton(core.LoggerFactory));
        // Kestrel's only transport is the hand-over from the agent's listener; no socket transport is bound.
        builder.Services.RemoveAll<IConnectionListenerFactory>();
        builder.Services.AddSingleton<IConnectionListenerFactory>(new HandoffListenerFactory(listener));
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(listener.EndPoint, listen => listen.Protocols = HttpProtocols.Http2);
        });
        builder.Services.AddGrpc(options =>
        {
            options.MaxReceiveMessageSize = core.Config.MaxReceiveMessageSize;
            options.Interceptors.Add<RpcErrorInterceptor>();
        });
        // Our binder registers every method (a request that does not parse is INVALID_ARGUMENT);
        // Grpc.AspNetCore's would register each a second time.
        builder.Services.RemoveAll(typeof(IServiceMethodProvider<>));
        foreach (var service in AgentCore.RpcServices)
        {
            service.AddToWebHost(builder.Services, core.Services);
        }
        var app = builder.Build();
        foreach (var service in AgentCore.RpcServices)
        {
            service.Map(app);
        }
        return app;
    }
}
