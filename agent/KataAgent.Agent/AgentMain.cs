using System.Runtime.InteropServices;
using KataAgent.Agent.Config;
using KataAgent.Agent.Guest;
using KataAgent.Agent.Logging;
using KataAgent.Agent.Processes;
using KataAgent.Agent.Sandbox;
using KataAgent.Agent.Server;
using KataAgent.Agent.Server.GrpcHost;
using KataAgent.Agent.Server.Hosting;
using KataAgent.Agent.Server.Listening;
using KataAgent.Agent.Server.Protocols;
using KataAgent.Agent.Transport;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent;

/// <summary>The agent's entry point: read the configuration, serve until told to stop.</summary>
public static class AgentMain
{
    /// <summary>Exit code for a bad command line or configuration.</summary>
    public const int UsageError = 2;

    /// <summary>Exit code when the server cannot start (e.g. the address cannot be bound).</summary>
    public const int StartFailure = 1;

    /// <summary>How long the calls running when the agent is asked to stop may take to answer (Kestrel's default shutdown timeout).</summary>
    private static readonly TimeSpan ShutdownGrace = TimeSpan.FromSeconds(30);

    /// <summary>Runs the agent; as PID 1 of the VM it never returns without powering off.</summary>
    public static int Run(string[] args)
    {
        if (!GuestInit.IsPid1)
        {
            return RunAgent(args, []);
        }
        // PID 1 must never exit (the kernel would panic): whatever ends the agent ends the VM, cleanly.
        int code;
        try
        {
            code = RunAgent(args, GuestInit.Prepare());
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"kata-agent: fatal: {e}");
            code = StartFailure;
        }
        Console.Error.WriteLine($"kata-agent: stopped (code {code}); powering off");
        GuestInit.PowerOff();
        return code;
    }

    private static int RunAgent(string[] args, List<string> initProblems)
    {

        AgentArguments arguments;
        AgentConfig config;
        try
        {
            arguments = AgentArguments.Parse(args);
            if (arguments.ShowHelp)
            {
                Console.Out.WriteLine(AgentArguments.Usage);
                return 0;
            }
            if (arguments.ShowVersion)
            {
                Console.Out.WriteLine($"kata-agent {AgentVersion.Agent} (Kata agent API {AgentVersion.Api})");
                return 0;
            }
            config = AgentConfigLoader.Load(arguments, Environment.GetEnvironmentVariable, ReadKernelCommandLine());
        }
        catch (AgentConfigException e)
        {
            Console.Error.WriteLine($"kata-agent: {e.Message}");
            return UsageError;
        }

        // Device and pipe streams wait in poll on pool threads; on a 1-vCPU guest the pool starts
        // with one thread, and one waiting read would starve everything else until it grows.
        ThreadPool.GetMinThreads(out int workers, out int completionPorts);
        ThreadPool.SetMinThreads(Math.Max(workers, 16), completionPorts);

        BootTimeline.Mark("config");
        // Every container start runs the helper: better no agent than one that fails at the first CreateContainer.
        try
        {
            if (InitHelper.Load(InitHelper.DefaultLocation, removeFile: GuestInit.IsPid1) is { } helperProblem)
            {
                initProblems.Add(helperProblem);
            }
        }
        catch (InitHelperException e)
        {
            Console.Error.WriteLine($"kata-agent: {e.Message}");
            return StartFailure;
        }
        return Serve(config, initProblems).GetAwaiter().GetResult();
    }

    /// <summary>
    /// Builds the core, binds the address and serves until asked to stop; then drains both protocols, stops the
    /// background services and, as PID 1, tears the guest down (<see cref="GuestShutdown"/>).
    /// </summary>
    private static async Task<int> Serve(AgentConfig config, List<string> initProblems)
    {
        AgentCore core;
        try
        {
            core = AgentCore.Build(config);
            BootTimeline.Mark("core built");
        }
        catch (AgentConfigException e)
        {
            Console.Error.WriteLine($"kata-agent: {e.Message}");
            return UsageError;
        }

        var logger = core.LoggerFactory.CreateLogger("kata-agent");
        using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => Stop(context, core.Lifetime, logger));
        using var onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, context => Stop(context, core.Lifetime, logger));
        foreach (string problem in initProblems)
        {
            logger.LogWarning("guest init: {Problem}", problem);
        }
        if (core.LogChannel.ListenProblem is { } logProblem)
        {
            logger.LogWarning("{Problem}", logProblem);
        }
        foreach (string option in config.UnknownKernelOptions)
        {
            logger.LogInformation("ignoring unknown kernel command-line option {Option}", option);
        }

        IConnectionListener transport;
        try
        {
            transport = ConnectionListeners.Bind(config.ServerAddress, core.LoggerFactory);
        }
        catch (AgentConfigException e)
        {
            Console.Error.WriteLine($"kata-agent: {e.Message}");
            await DisposeAsync(core).ConfigureAwait(false);
            return UsageError;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"kata-agent: cannot serve on {config.ServerAddress}: {Describe(e)}");
            await DisposeAsync(core).ConfigureAwait(false);
            return StartFailure;
        }
        var grpc = new LazyGrpcHost(core, core.LoggerFactory.CreateLogger<LazyGrpcHost>());
        var selector = new ProtocolSelector(() => core.Ttrpc, grpc, core.LoggerFactory.CreateLogger<ProtocolSelector>());
        var listener = new AgentListener(transport, selector, core.LoggerFactory.CreateLogger<AgentListener>());
        try
        {
            await core.StartBackgroundServicesAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"kata-agent: cannot start: {Describe(e)}");
            await transport.DisposeAsync().ConfigureAwait(false);
            await core.StopBackgroundServicesAsync(CancellationToken.None).ConfigureAwait(false);
            await DisposeAsync(core).ConfigureAwait(false);
            return StartFailure;
        }
        listener.Start();
        BootTimeline.Mark("listening");
        DeferredModules.Boot.StartLoading(warning => logger.LogWarning("{Problem}", warning), summary => logger.LogInformation("{Summary}", summary));
        logger.LogInformation("kata-agent {Version} serving the Kata agent API on {Address} (pid {Pid})", AgentVersion.Agent, config.ServerAddress, Environment.ProcessId);
        logger.Log(GuestInit.IsPid1 ? LogLevel.Information : LogLevel.Debug, "start-up steps (guest uptime): {Steps}", BootTimeline.Describe());

        await core.Lifetime.WaitForStopRequestAsync().ConfigureAwait(false);
        using (var grace = new CancellationTokenSource(ShutdownGrace))
        {
            await Task.WhenAll(listener.StopAsync(grace.Token), grpc.StopAsync(grace.Token)).ConfigureAwait(false);
        }
        using (var grace = new CancellationTokenSource(ShutdownGrace))
        {
            await core.StopBackgroundServicesAsync(grace.Token).ConfigureAwait(false);
        }
        GuestShutdown.Run(core.Services, logger, GuestInit.IsPid1);
        logger.LogInformation("kata-agent stopped");
        await DisposeAsync(core).ConfigureAwait(false);
        return 0;
    }

    /// <summary>Disposes the core (its logger factory flushes the console logger's queue), then the log channel, which sends what it holds.</summary>
    private static async Task DisposeAsync(AgentCore core)
    {
        var logChannel = core.LogChannel;
        await core.DisposeAsync().ConfigureAwait(false);
        logChannel.Dispose();
    }

    /// <summary>SIGTERM/SIGINT: drain and stop serving, then return from Run.</summary>
    private static void Stop(PosixSignalContext context, AgentLifetime lifetime, ILogger logger)
    {
        context.Cancel = true;
        logger.LogInformation("{Signal}: stopping", context.Signal);
        lifetime.RequestStop();
    }

    private static string? ReadKernelCommandLine()
    {
        try
        {
            return File.ReadAllText("/proc/cmdline");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The messages of an exception chain, outermost first, without repeats.</summary>
    private static string Describe(Exception e)
    {
        var messages = new List<string>();
        for (Exception? current = e; current is not null; current = current.InnerException)
        {
            if (!messages.Contains(current.Message))
            {
                messages.Add(current.Message);
            }
        }
        return string.Join(": ", messages);
    }
}
