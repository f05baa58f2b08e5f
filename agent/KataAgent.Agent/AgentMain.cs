using System.Runtime.InteropServices;
using KataAgent.Agent.Config;
using KataAgent.Agent.Containers.Init;
using KataAgent.Agent.Guest;
using KataAgent.Agent.Logging;
using KataAgent.Agent.Sandbox;
using KataAgent.Agent.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent;

/// <summary>The agent's entry point: read the configuration, serve until told to stop.</summary>
public static class AgentMain
{
    /// <summary>Exit code for a bad command line or configuration.</summary>
    public const int UsageError = 2;

    /// <summary>Exit code when the server cannot start (e.g. the address cannot be bound).</summary>
    public const int StartFailure = 1;

    /// <summary>The helper modes of the binary (see <see cref="IHelperMode"/>).</summary>
    private static readonly IHelperMode[] HelperModes =
    [
        new ContainerInitMode(ContainerInit.StageOne),
        new ContainerInitMode(ContainerInit.StageTwo),
        new PauseMode(),
        new SandboxNamespacesMode(),
        new MemAgent.CompactMemoryMode(),
    ];

    /// <summary>Runs a helper mode, or the agent; as PID 1 of the VM it never returns without powering off.</summary>
    public static int Run(string[] args)
    {
        // The helper modes come first: the container init's stage 2 and the pause process are PID 1
        // of their own PID namespace, and nothing may start a thread or touch the console there.
        foreach (var mode in HelperModes)
        {
            if (args.Length == 1 + mode.ArgumentCount && args[0] == mode.Name)
            {
                return mode.Run(args[1..]);
            }
        }

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
        WebApplication app;
        try
        {
            app = AgentServer.Build(config);
            BootTimeline.Mark("server built");
        }
        catch (AgentConfigException e)
        {
            Console.Error.WriteLine($"kata-agent: {e.Message}");
            return UsageError;
        }

        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("kata-agent");
        var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();
        using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => Stop(context, lifetime, logger));
        using var onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, context => Stop(context, lifetime, logger));
        foreach (string problem in initProblems)
        {
            logger.LogWarning("guest init: {Problem}", problem);
        }
        if (app.Services.GetRequiredService<LogChannel>().ListenProblem is { } logProblem)
        {
            logger.LogWarning("{Problem}", logProblem);
        }
        foreach (string option in config.UnknownKernelOptions)
        {
            logger.LogInformation("ignoring unknown kernel command-line option {Option}", option);
        }
        try
        {
            app.StartAsync().GetAwaiter().GetResult();
            BootTimeline.Mark("listening");
            DeferredModules.Boot.StartLoading(warning => logger.LogWarning("{Problem}", warning), summary => logger.LogInformation("{Summary}", summary));
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"kata-agent: cannot serve on {config.ServerAddress}: {Describe(e)}");
            return StartFailure;
        }
        logger.LogInformation("kata-agent {Version} serving the Kata agent API on {Address} (pid {Pid})", AgentVersion.Agent, config.ServerAddress, Environment.ProcessId);
        if (GuestInit.IsPid1)
        {
            logger.LogInformation("start-up steps (guest uptime): {Steps}", BootTimeline.Describe());
        }
        app.WaitForShutdownAsync().GetAwaiter().GetResult();
        GuestShutdown.Run(app.Services, logger, GuestInit.IsPid1);
        logger.LogInformation("kata-agent stopped");
        var logChannel = app.Services.GetRequiredService<LogChannel>();
        // Disposing the host flushes the console logger's queue; the log channel sends what it holds.
        app.DisposeAsync().AsTask().GetAwaiter().GetResult();
        logChannel.Dispose();
        return 0;
    }

    /// <summary>SIGTERM/SIGINT: drain and stop serving, then return from Run.</summary>
    private static void Stop(PosixSignalContext context, IHostApplicationLifetime lifetime, ILogger logger)
    {
        context.Cancel = true;
        logger.LogInformation("{Signal}: stopping", context.Signal);
        lifetime.StopApplication();
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
