using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace CityOS.NgsiLd.Tests.JsonLd;

/// <summary>A real HTTP server on 127.0.0.1 serving @context documents, counting the requests per path.</summary>
internal sealed class ContextServer : IAsyncDisposable
{
    private readonly HttpListener _listener;
    private readonly ConcurrentDictionary<string, Route> _routes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _hits = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _answered = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public ContextServer()
    {
        // Another process may take the probed port before the listener does (tests of other projects run alongside): retry.
        for (var attempt = 1; ; attempt++)
        {
            BaseUrl = $"http://127.0.0.1:{FreePort()}";
            var listener = new HttpListener();
            listener.Prefixes.Add(BaseUrl + "/");
            try
            {
                listener.Start();
                _listener = listener;
                break;
            }
            catch (HttpListenerException) when (attempt < 5)
            {
                listener.Close();
            }
        }

        _loop = Task.Run(AcceptLoopAsync);
    }

    public string BaseUrl { get; private set; }

    public string Url(string path) => BaseUrl + path;

    public void Serve(string path, string body, string contentType = "application/ld+json", int status = 200, TimeSpan delay = default, string? cacheControl = null) =>
        _routes[path] = new Route(status, contentType, body, delay, cacheControl);

    public int Hits(string path) => _hits.GetValueOrDefault(path);

    /// <summary>Waits until <paramref name="count"/> responses to <paramref name="path"/> have been sent.</summary>
    public async Task WaitForAnswersAsync(string path, int count)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (_answered.GetValueOrDefault(path) < count)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the server never answered {path}");
            await Task.Delay(20);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        _listener.Close();
        try
        {
            await _loop;
        }
        catch (Exception e) when (e is ObjectDisposedException or HttpListenerException or OperationCanceledException)
        {
        }

        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is ObjectDisposedException or HttpListenerException or InvalidOperationException)
            {
                return;
            }

            _ = Task.Run(() => HandleAsync(context));
        }
    }

    private async Task HandleAsync(HttpListenerContext context)
    {
        var path = context.Request.Url!.AbsolutePath;
        _hits.AddOrUpdate(path, 1, (_, n) => n + 1);
        try
        {
            if (!_routes.TryGetValue(path, out var route))
            {
                context.Response.StatusCode = 404;
                context.Response.Close();
                return;
            }

            if (route.Delay > TimeSpan.Zero)
            {
                await Task.Delay(route.Delay, _stop.Token);
            }

            var bytes = Encoding.UTF8.GetBytes(route.Body);
            context.Response.StatusCode = route.Status;
            context.Response.ContentType = route.ContentType;
            if (route.CacheControl is not null)
            {
                context.Response.Headers["Cache-Control"] = route.CacheControl;
            }

            context.Response.ContentLength64 = bytes.Length;
            await context.Response.OutputStream.WriteAsync(bytes, _stop.Token);
            context.Response.Close();
            _answered.AddOrUpdate(path, 1, (_, n) => n + 1);
        }
        catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or OperationCanceledException or IOException)
        {
            // The client gave up (timeout tests) or the server is stopping.
        }
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    private sealed record Route(int Status, string ContentType, string Body, TimeSpan Delay, string? CacheControl);
}

/// <summary>A clock the test moves by hand.</summary>
internal sealed class ManualTimeProvider : TimeProvider
{
    public DateTimeOffset Now { get; set; } = new(2026, 11, 23, 10, 0, 0, TimeSpan.Zero);

    public override DateTimeOffset GetUtcNow() => Now;

    public void Advance(TimeSpan by) => Now += by;
}

/// <summary>An HTTP handler that fails the test if anything tries to go over the network.</summary>
internal sealed class NoNetworkHandler : HttpMessageHandler
{
    public int Calls { get; private set; }

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Calls++;
        throw new HttpRequestException($"No network in this test: {request.RequestUri}");
    }
}
