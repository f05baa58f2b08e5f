using System.Net.Http;

namespace KataAgent.Testing.Containerd.Cri;

/// <summary>The pod and container configurations the CRI tests and the benchmark send, as kubelet would build them.</summary>
public static class CriPods
{
    /// <summary>
    /// A pod sandbox named <paramref name="name"/> (also its hostname) on the pod network, with <paramref name="resources"/>
    /// as kubelet computes them from the pod's requests and limits; <paramref name="pid"/> is
    /// <see cref="NamespaceMode.Pod"/> for a pod with <c>shareProcessNamespace: true</c>.
    /// </summary>
    public static PodSandboxConfig SandboxConfig(string name, LinuxContainerResources? resources = null, NamespaceMode pid = NamespaceMode.Container) => new()
    {
        Metadata = new PodSandboxMetadata { Name = name, Uid = Guid.NewGuid().ToString(), Namespace = "default" },
        Hostname = name,
        Linux = new LinuxPodSandboxConfig
        {
            SecurityContext = new LinuxSandboxSecurityContext { NamespaceOptions = new NamespaceOption { Network = NamespaceMode.Pod, Pid = pid, Ipc = NamespaceMode.Pod } },
            Resources = resources,
        },
    };

    /// <summary>
    /// A container of the busybox image running <paramref name="command"/>, with the namespace options kubelet gives
    /// every container of its pod (the pod's <paramref name="pid"/> mode: containerd's CRI writes the sandbox's PID
    /// namespace path into the spec unless it is <see cref="NamespaceMode.Container"/>).
    /// </summary>
    public static ContainerConfig Container(string name, IEnumerable<string> command, LinuxContainerResources? resources = null, NamespaceMode pid = NamespaceMode.Container) => new()
    {
        Metadata = new ContainerMetadata { Name = name },
        Image = new ImageSpec { Image = BusyboxOciImage.Reference },
        Command = { command },
        Linux = new LinuxContainerConfig
        {
            Resources = resources,
            SecurityContext = new LinuxContainerSecurityContext { NamespaceOptions = new NamespaceOption { Network = NamespaceMode.Pod, Pid = pid, Ipc = NamespaceMode.Pod } },
        },
    };

    /// <summary>A container serving <paramref name="page"/> (plus a newline) as / on port 80 with busybox httpd.</summary>
    public static ContainerConfig HttpdContainer(string name, string page, LinuxContainerResources? resources = null) =>
        Container(name, ["sh", "-c", $"mkdir -p /www && echo '{page}' > /www/index.html && exec httpd -f -p 80 -h /www"], resources);

    /// <summary>GETs <c>http://ADDRESS:PORT/</c> from the node until the server answers (it may still be starting), within <paramref name="limit"/> (default 60 s).</summary>
    public static async Task<string> FetchAsync(string address, int port = 80, TimeSpan? limit = null)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var deadline = DateTime.UtcNow + (limit ?? TimeSpan.FromSeconds(60));
        while (true)
        {
            try
            {
                return await http.GetStringAsync($"http://{address}:{port}/");
            }
            catch (Exception e) when ((e is HttpRequestException or TaskCanceledException) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(250);
            }
        }
    }
}
