using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace CityOS.Server.Tests.NgsiLd;

/// <summary>One notification as it arrived: path, headers and JSON body.</summary>
public sealed record ReceivedNotification(string Path, IReadOnlyDictionary<string, string> Headers, JsonObject Body, DateTimeOffset At);

/// <summary>
/// A real HTTP endpoint on 127.0.0.1 (Kestrel, ephemeral port) that records every POST it gets, per path. A path
/// can be told to answer with another status or after a delay, to play a failing or slow receiver.
/// </summary>
public sealed class NotificationReceiver : IAsyncLifetime
{
    private readonly ConcurrentDictionary<string, Channel<ReceivedNotification>> _inboxes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (int Status, TimeSpan Delay)> _behaviour = new(StringComparer.Ordinal);
    private WebApplication? _app;

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>A new path of its own: the URL to subscribe with.</summary>
    public string NewEndpoint(out string path)
    {
        path = "/n/" + Guid.NewGuid().ToString("N");
        return new Uri(BaseAddress, path).ToString();
    }

    /// <summary>Makes <paramref name="path"/> answer with <paramref name="status"/> after <paramref name="delay"/>.</summary>
    public void Behave(string path, int status, TimeSpan delay = default) => _behaviour[path] = (status, delay);

    private Channel<ReceivedNotification> Inbox(string path) => _inboxes.GetOrAdd(path, _ => Channel.CreateUnbounded<ReceivedNotification>());

    /// <summary>The next notification on <paramref name="path"/>; fails after <paramref name="timeout"/> (default 10 s).</summary>
    public async Task<ReceivedNotification> NextAsync(string path, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        try
        {
            return await Inbox(path).Reader.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"No notification arrived on {path} within {(timeout ?? TimeSpan.FromSeconds(10)).TotalSeconds} s.");
        }
    }

    /// <summary>Asserts that nothing arrives on <paramref name="path"/> within <paramref name="wait"/>.</summary>
    public async Task ExpectNoneAsync(string path, TimeSpan wait)
    {
        using var cts = new CancellationTokenSource(wait);
        try
        {
            var unexpected = await Inbox(path).Reader.ReadAsync(cts.Token);
            Assert.Fail("Unexpected notification: " + unexpected.Body.ToJsonString());
        }
        catch (OperationCanceledException)
        {
            // Nothing came: as expected.
        }
    }

    /// <summary>Discards whatever arrives on <paramref name="path"/> within <paramref name="wait"/>.</summary>
    public async Task DrainAsync(string path, TimeSpan wait)
    {
        using var cts = new CancellationTokenSource(wait);
        try
        {
            while (true)
            {
                await Inbox(path).Reader.ReadAsync(cts.Token);
            }
        }
        catch (OperationCanceledException)
        {
            // Quiet for the whole wait.
        }
    }

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        _app = builder.Build();
        _app.MapPost("/n/{id}", async (HttpContext http) =>
        {
            var path = http.Request.Path.Value!;
            var body = await JsonNode.ParseAsync(http.Request.Body);
            var headers = http.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
            var (status, delay) = _behaviour.TryGetValue(path, out var b) ? b : (200, TimeSpan.Zero);
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay);
            }

            Inbox(path).Writer.TryWrite(new ReceivedNotification(path, headers, (JsonObject)body!, DateTimeOffset.UtcNow));
            return Results.StatusCode(status);
        });
        await _app.StartAsync();
        BaseAddress = new Uri(_app.Urls.First());
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
