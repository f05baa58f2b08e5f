using System.Net;
using System.Net.Sockets;

namespace KataAgent.Tests.Image.Registry;

/// <summary>
/// A scripted HTTP server on a loopback port, for the registry client's behaviours no real registry shows on
/// demand (redirects to another host, 429 and 503 runs, lying headers). Every request is recorded with its
/// Authorization header; <see cref="Handler"/> answers it.
/// </summary>
internal sealed class FakeRegistryServer : IDisposable
{
    private readonly HttpListener _listener;
    private readonly Task _serving;
    private readonly List<(string Path, string? Authorization, string? Range)> _requests = [];

    public FakeRegistryServer(Func<HttpListenerRequest, HttpListenerResponse, Task> handler)
    {
        Handler = handler;
        for (int attempt = 0; ; attempt++)
        {
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            Port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            _listener = new HttpListener();
            _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
            try
            {
                _listener.Start();
                break;
            }
            catch (HttpListenerException) when (attempt < 10)
            {
                _listener.Close();
            }
        }
        _serving = Task.Run(ServeAsync);
    }

    public Func<HttpListenerRequest, HttpListenerResponse, Task> Handler { get; }

    public int Port { get; }

    /// <summary><c>127.0.0.1:port</c>.</summary>
    public string Authority => $"127.0.0.1:{Port}";

    public IReadOnlyList<(string Path, string? Authorization, string? Range)> Requests
    {
        get
        {
            lock (_requests)
                return _requests.ToList();
        }
    }

    public void Dispose()
    {
        _listener.Close();
        try
        {
            _serving.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
    }

    public static async Task WriteAsync(HttpListenerResponse response, int status, string? contentType, byte[] body, params (string Name, string Value)[] headers)
    {
        response.StatusCode = status;
        if (contentType is not null)
            response.ContentType = contentType;
        foreach (var (name, value) in headers)
            response.AddHeader(name, value);
        response.ContentLength64 = body.Length;
        await response.OutputStream.WriteAsync(body);
        response.Close();
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            lock (_requests)
                _requests.Add((context.Request.Url!.PathAndQuery, context.Request.Headers["Authorization"], context.Request.Headers["Range"]));
            try
            {
                await Handler(context.Request, context.Response);
            }
            catch (Exception e) when (e is HttpListenerException or IOException)
            {
            }
        }
    }
}
