using KataAgent.Agent.Sandbox;
using KataAgent.Agent.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Guest;

/// <summary>
/// What the agent does once it has stopped serving (SIGTERM, SIGINT, DestroySandbox as PID 1, a
/// fatal error): as PID 1 it stops every container and tears the sandbox down, then unmounts its
/// storages so their filesystems are clean before <see cref="GuestInit.PowerOff"/> syncs and powers
/// off. Stand-alone it leaves containers alone (a test or operator may still want them) but never
/// leaves its disk mounts behind.
/// </summary>
internal static class GuestShutdown
{
    private static readonly TimeSpan ContainerGrace = TimeSpan.FromSeconds(15);

    public static void Run(IServiceProvider services, ILogger logger, bool asPid1)
    {
        if (asPid1)
        {
            try
            {
                using var timeout = new CancellationTokenSource(ContainerGrace);
                services.GetRequiredService<SandboxManager>().DestroyAsync(timeout.Token).GetAwaiter().GetResult();
            }
            catch (Exception e)
            {
                logger.LogWarning("shutdown: stopping the containers: {Error}", e.Message);
            }
        }
        try
        {
            services.GetRequiredService<StorageManager>().UnmountAll();
        }
        catch (Exception e)
        {
            logger.LogWarning("shutdown: unmounting storages: {Error}", e.Message);
        }
    }
}
