using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace CityOS.Server.Tests.Bench;

/// <summary>
/// A tiny in-process stand-in for the NGSI-LD endpoints the benchmark uses, on a free loopback port,
/// that records what it was sent. It answers as FACTS.md §1 says a broker does.
/// </summary>
internal sealed class FakeBroker : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeBroker(WebApplication app) => _app = app;

    /// <summary>Entity id → type of everything created or upserted.</summary>
    public ConcurrentDictionary<string, string> Entities { get; } = new(StringComparer.Ordinal);

    /// <summary>Raw query strings of every GET /entities.</summary>
    public ConcurrentQueue<string> Queries { get; } = new();

    /// <summary>Attribute names of every partial attribute update.</summary>
    public ConcurrentQueue<string> PatchedAttributes { get; } = new();

    /// <summary>Distinct NGSILD-Tenant header values seen ("" when absent).</summary>
    public ConcurrentDictionary<string, int> Tenants { get; } = new(StringComparer.Ordinal);

    /// <summary>Distinct Content-Type values of requests with a body.</summary>
    public ConcurrentDictionary<string, int> ContentTypes { get; } = new(StringComparer.Ordinal);

    public int UpsertRequests => _upserts;

    /// <summary>How long POST /entities waits before answering.</summary>
    public TimeSpan CreateDelay { get; set; }

    /// <summary>When true, GET /entities with a q answers 400 BadRequestData.</summary>
    public bool FailFilteredQueries { get; set; }

    /// <summary>When true, POST /entities answers 400 BadRequestData.</summary>
    public bool FailCreates { get; set; }

    public string BaseUrl { get; private set; } = "";

    private int _upserts;

    public static async Task<FakeBroker> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var broker = new FakeBroker(app);
        app.Use(async (context, next) =>
        {
            broker.Tenants.TryAdd(context.Request.Headers["NGSILD-Tenant"].ToString(), 0);
            if (context.Request.Method is "POST" or "PATCH")
            {
                broker.ContentTypes.TryAdd(context.Request.ContentType ?? "", 0);
                if (context.Request.ContentLength is null)
                {
                    context.Response.StatusCode = 411;
                    return;
                }
            }

            await next(context);
        });
        app.MapGet("/version", (HttpContext c) => c.Response.WriteAsync("""{"product":"FakeBroker","version":"9.9"}"""));
        app.MapPost("/ngsi-ld/v1/entities", broker.CreateAsync);
        app.MapPost("/ngsi-ld/v1/entityOperations/upsert", broker.UpsertAsync);
        app.MapPatch("/ngsi-ld/v1/entities/{id}/attrs/{attr}", broker.PatchAsync);
        app.MapGet("/ngsi-ld/v1/entities", broker.QueryAsync);
        await app.StartAsync();
        broker.BaseUrl = app.Urls.First();
        return broker;
    }

    public int CountOf(string type) => Entities.Count(e => e.Value == type);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task CreateAsync(HttpContext context)
    {
        using var body = await JsonDocument.ParseAsync(context.Request.Body);
        if (CreateDelay > TimeSpan.Zero)
        {
            await Task.Delay(CreateDelay, context.RequestAborted);
        }

        if (FailCreates)
        {
            context.Response.StatusCode = 400;
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync("""{"type":"https://uri.etsi.org/ngsi-ld/errors/BadRequestData","title":"nope","detail":"fake refusal"}""");
            return;
        }

        var id = body.RootElement.GetProperty("id").GetString()!;
        if (!Entities.TryAdd(id, body.RootElement.GetProperty("type").GetString()!))
        {
            context.Response.StatusCode = 409;
            return;
        }

        context.Response.StatusCode = 201;
        context.Response.Headers.Location = "/ngsi-ld/v1/entities/" + id;
    }

    private async Task UpsertAsync(HttpContext context)
    {
        Interlocked.Increment(ref _upserts);
        using var body = await JsonDocument.ParseAsync(context.Request.Body);
        var created = new List<string>();
        foreach (var entity in body.RootElement.EnumerateArray())
        {
            var id = entity.GetProperty("id").GetString()!;
            if (Entities.TryAdd(id, entity.GetProperty("type").GetString()!))
            {
                created.Add(id);
            }
        }

        if (created.Count == 0)
        {
            context.Response.StatusCode = 204;
            return;
        }

        context.Response.StatusCode = 201;
        await context.Response.WriteAsJsonAsync(created);
    }

    private Task PatchAsync(HttpContext context)
    {
        var id = (string)context.Request.RouteValues["id"]!;
        PatchedAttributes.Enqueue((string)context.Request.RouteValues["attr"]!);
        context.Response.StatusCode = Entities.ContainsKey(id) ? 204 : 404;
        return Task.CompletedTask;
    }

    private async Task QueryAsync(HttpContext context)
    {
        Queries.Enqueue(context.Request.QueryString.Value ?? "");
        if (FailFilteredQueries && context.Request.Query.ContainsKey("q"))
        {
            context.Response.StatusCode = 400;
            return;
        }

        var type = context.Request.Query["type"].ToString();
        var total = CountOf(type);
        if (context.Request.Query["count"] == "true")
        {
            context.Response.Headers["NGSILD-Results-Count"] = total.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(context.Request.Query["limit"] == "0" ? "[]" : """[{"id":"urn:ngsi-ld:WeatherObserved:x","type":"WeatherObserved"}]""");
    }
}
