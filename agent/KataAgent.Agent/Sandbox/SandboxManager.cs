using KataAgent.Helpers.Sandbox;
using KataAgent.Helpers.Processes;
using System.Text;
using KataAgent.Agent.Containers;
using KataAgent.Helpers.Containers.Init;
using KataAgent.Agent.Containers.Processes;
using KataAgent.Agent.Errors;
using KataAgent.Agent.Guest;
using KataAgent.Agent.Interop;
using KataAgent.Agent.Storage;
using KataAgent.Linux.Interop;
using KataAgent.Linux.IO;
using KataAgent.Agent.Processes;
using KataAgent.Protocols.Agent;
using Microsoft.Extensions.Logging;
using KataAgent.Protocols.Guest;

namespace KataAgent.Agent.Sandbox;

/// <summary>
/// CreateSandbox and DestroySandbox: the pod-wide state shared by its containers — hostname in a
/// shared UTS namespace, a shared IPC namespace, optionally a shared PID namespace held by a pause
/// process (<see cref="SandboxPause"/>, which lives until DestroySandbox), DNS for resolv.conf, and sandbox storages.
/// </summary>
public sealed class SandboxManager(ContainerManager containers, SandboxNamespaces namespaces, SandboxPause pause, StorageManager storage, ProcessReaper reaper, ILogger<SandboxManager> logger)
{
    private const string GuestResolvConf = "/etc/resolv.conf";

    private readonly SemaphoreSlim _gate = new(1, 1);
    private IReadOnlyList<string> _storages = [];
    private bool _created;

    public string? SandboxId { get; private set; }

    /// <summary>Whether a sandbox exists (CreateSandbox, or a pod's CreatePod, and no DestroySandbox since).</summary>
    public bool Exists => _created;

    /// <summary>
    /// Every check CreateAsync makes before it touches anything; returns the host name it will set. Errors name the
    /// CreateSandboxRequest's fields. For callers that check a whole pod before creating any of it.
    /// </summary>
    public static string Validate(CreateSandboxRequest request)
    {
        string hostname = request.Hostname.Length > 64 ? request.Hostname[..64] : request.Hostname;
        if (hostname.Contains('/') || hostname.Contains('\0'))
        {
            throw AgentException.InvalidArgument("hostname", $"'{request.Hostname}' is not a host name");
        }
        for (int i = 0; i < request.Dns.Count; i++)
        {
            if (ResolvConfLines.Problem(request.Dns[i]) is { } problem)
            {
                throw AgentException.InvalidArgument($"dns[{i}]", problem);
            }
        }
        if (request.KernelModules.Count > 0)
        {
            throw AgentException.InvalidArgument("kernel_modules", "loading kernel modules is not supported by this agent yet");
        }
        StorageManager.Validate(request.Storages, "storages");
        return hostname;
    }

    public async Task CreateAsync(CreateSandboxRequest request, CancellationToken cancellationToken)
    {
        string hostname = Validate(request);

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_created)
            {
                throw AgentException.AlreadyExists(null, $"sandbox '{SandboxId}' already exists");
            }
            try
            {
                await CreateNamespacesAsync(hostname, cancellationToken).ConfigureAwait(false);
                Directory.CreateDirectory(GuestLayout.SandboxDirectory);
                if (request.Dns.Count > 0)
                {
                    await File.WriteAllTextAsync(GuestLayout.SandboxResolvConfPath, string.Join('\n', request.Dns) + "\n", cancellationToken).ConfigureAwait(false);
                    if (GuestInit.IsPid1)
                    {
                        MountGuestResolvConf();
                    }
                }
                _storages = await storage.MountAsync(request.Storages, "storages", cancellationToken).ConfigureAwait(false);
                if (request.SandboxPidns)
                {
                    await pause.EnsureStartedAsync(forEveryContainer: true, cancellationToken).ConfigureAwait(false);
                }
            }
            catch
            {
                await TearDownAsync().ConfigureAwait(false);
                throw;
            }
            _created = true;
            SandboxId = request.SandboxId;
            logger.LogInformation("sandbox {Id} created (hostname {Hostname}, shared pid namespace: {Pidns})", request.SandboxId, hostname, request.SandboxPidns);
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task DestroyAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await containers.RemoveAllAsync(cancellationToken).ConfigureAwait(false);
            await TearDownAsync().ConfigureAwait(false);
            logger.LogInformation("sandbox {Id} destroyed", SandboxId);
            _created = false;
            SandboxId = null;
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task CreateNamespacesAsync(string hostname, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(GuestLayout.SandboxNamespaceDirectory);
        // An agent that died without DestroySandbox leaves its pins mounted: clear them first.
        foreach (string kind in new[] { "uts", "ipc" })
        {
            UnmountAll(Path.Combine(GuestLayout.SandboxNamespaceDirectory, kind));
        }
        var (stderrRead, stderrWrite) = Libc.Pipe();
        int devNull = Libc.Check(Libc.Open("/dev/null", Libc.O_RDWR | Libc.O_CLOEXEC), "open /dev/null");
        Task<int> exit;
        try
        {
            (_, exit) = reaper.SpawnWatched(() => ProcessSpawner.Spawn(InitHelper.ExecutablePath, [InitHelper.FileName, SandboxNamespacesMode.Argument, GuestLayout.SandboxNamespaceDirectory, hostname], [], [devNull, devNull, stderrWrite]));
        }
        finally
        {
            Libc.Close(devNull);
            Libc.Close(stderrWrite);
        }
        using var stderr = new FileDescriptorStream(stderrRead, ownsFd: true);
        using var reader = new StreamReader(stderr, Encoding.UTF8);
        string error = await reader.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
        if (await exit.WaitAsync(cancellationToken).ConfigureAwait(false) != 0)
        {
            throw AgentException.Internal($"creating the sandbox namespaces: {error.Trim()}");
        }
        namespaces.UtsPath = Path.Combine(GuestLayout.SandboxNamespaceDirectory, "uts");
        namespaces.IpcPath = Path.Combine(GuestLayout.SandboxNamespaceDirectory, "ipc");
    }

    private async Task TearDownAsync()
    {
        await pause.StopAsync().ConfigureAwait(false);
        storage.Release(_storages, includingShared: true);
        _storages = [];
        foreach (string? path in new[] { namespaces.UtsPath, namespaces.IpcPath })
        {
            if (path is not null)
            {
                UnmountAll(path);
                File.Delete(path);
            }
        }
        namespaces.Clear();
    }

    /// <summary>
    /// Bind-mounts the sandbox's resolv.conf over the guest's /etc/resolv.conf (created empty when the initrd has
    /// none), so that the guest itself (the debug console, hooks) resolves names as the pod does. Only as PID 1:
    /// stand-alone the agent runs on somebody's host, whose resolv.conf is not its to change.
    /// </summary>
    private void MountGuestResolvConf()
    {
        UnmountAll(GuestResolvConf);
        Directory.CreateDirectory("/etc");
        if (!File.Exists(GuestResolvConf))
        {
            File.WriteAllText(GuestResolvConf, "");
        }
        Libc.Check(Libc.Mount(GuestLayout.SandboxResolvConfPath, GuestResolvConf, null, Libc.MS_BIND, null), $"bind {GuestLayout.SandboxResolvConfPath} on {GuestResolvConf}");
    }

    /// <summary>Unmounts every layer mounted on <paramref name="path"/>; a path with none is fine.</summary>
    private void UnmountAll(string path)
    {
        for (int layer = 0; layer < 64; layer++)
        {
            if (Libc.Umount2(path, Libc.MNT_DETACH) != 0)
            {
                var error = LinuxException.FromLastError($"umount {path}");
                if (error.Errno is not (Errno.EINVAL or Errno.ENOENT))
                {
                    logger.LogWarning("{Error}", error.Message);
                }
                return;
            }
        }
    }
}
