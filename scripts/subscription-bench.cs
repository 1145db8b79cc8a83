#:sdk Microsoft.NET.Sdk.Web
// Notification figures: write throughput without and with N subscriptions (closed loop, 32 workers), then the
// latency from write acknowledged to notification received at a fixed update rate (open loop), on loopback.
// Start a server first (e.g. cityos serve --urls http://127.0.0.1:18131), then:
//   dotnet run scripts/subscription-bench.cs -- http://127.0.0.1:18131 1000 2000 10 1000
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

// Arguments: <broker base url> <subscriptions> <rate per s> <seconds> <entities>; the receiver listens on 127.0.0.1:18132.
var broker = args[0];
var subscriptions = int.Parse(args[1]);
var rate = int.Parse(args[2]);
var seconds = int.Parse(args[3]);
var entityCount = int.Parse(args[4]);
var tenant = "bench" + Guid.NewGuid().ToString("N")[..8];

var acks = new ConcurrentDictionary<string, long>();
// Notifications that arrive before the client has read the write's response count as latency 0.
var early = new ConcurrentDictionary<string, bool>();
var latencies = new ConcurrentBag<double>();
long received = 0;
var builder = WebApplication.CreateSlimBuilder();
builder.WebHost.UseUrls("http://127.0.0.1:18132");
builder.Logging.ClearProviders();
var app = builder.Build();
app.MapPost("/n", async (HttpContext http) =>
{
    var now = Stopwatch.GetTimestamp();
    var body = await JsonNode.ParseAsync(http.Request.Body);
    foreach (var e in body!["data"]!.AsArray())
    {
        var key = (string)e!["id"]! + "/" + (double)e["speed"]!["value"]!;
        Interlocked.Increment(ref received);
        if (acks.TryRemove(key, out var ack))
        {
            latencies.Add(Stopwatch.GetElapsedTime(ack, now).TotalMilliseconds);
        }
        else
        {
            early[key] = true;
        }
    }
    return Results.Ok();
});
await app.StartAsync();

using var client = new HttpClient { BaseAddress = new Uri(broker) };
client.DefaultRequestHeaders.Add("NGSILD-Tenant", tenant);
async Task Send(HttpMethod method, string path, string body)
{
    using var request = new HttpRequestMessage(method, "/ngsi-ld/v1/" + path) { Content = new StringContent(body, Encoding.UTF8) };
    request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
    using var response = await client.SendAsync(request);
    if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"{path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
}

for (var i = 0; i < entityCount; i++)
    await Send(HttpMethod.Post, "entities", $$"""{"id": "urn:ngsi-ld:Vehicle:{{i}}", "type": "Vehicle", "speed": {"type": "Property", "value": 0} }""");

// Throughput without subscriptions (closed loop, 32 workers, 5 s).
async Task<double> Throughput(int secs)
{
    long done = 0; var stop = Stopwatch.StartNew(); var v = 1_000_000 + Random.Shared.Next(1000) * 1000;
    await Task.WhenAll(Enumerable.Range(0, 32).Select(async w =>
    {
        var n = 0;
        while (stop.Elapsed.TotalSeconds < secs)
        {
            var id = (w * 7919 + n++) % entityCount;
            await Send(HttpMethod.Patch, $"entities/urn:ngsi-ld:Vehicle:{id}/attrs", $$"""{"speed": {"type": "Property", "value": {{Interlocked.Increment(ref v)}} } }""");
            Interlocked.Increment(ref done);
        }
    }));
    return done / stop.Elapsed.TotalSeconds;
}
var before = await Throughput(5);
Console.WriteLine($"updates/s without subscriptions: {before:F0}");

// Subscriptions: one per entity (its id), the rest on other entities' ids.
for (var i = 0; i < subscriptions; i++)
    await Send(HttpMethod.Post, "subscriptions", $$"""{"type": "Subscription", "entities": [{"id": "urn:ngsi-ld:Vehicle:{{i}}", "type": "Vehicle"}], "watchedAttributes": ["speed"], "notification": {"endpoint": {"uri": "http://127.0.0.1:18132/n"} } }""");
await Task.Delay(500);
var after = await Throughput(5);
Console.WriteLine($"updates/s with {subscriptions} subscriptions: {after:F0} ({after / before:P0})");
await Task.Delay(3000);
acks.Clear(); latencies.Clear(); early.Clear();

// Open loop at the target rate; latency = write acknowledged -> notification received.
var sw = Stopwatch.StartNew(); var sent = 0; var tasks = new List<Task>(); var value = 0;
while (sw.Elapsed.TotalSeconds < seconds)
{
    var due = (int)(sw.Elapsed.TotalSeconds * rate);
    while (sent < due)
    {
        var id = sent % Math.Min(entityCount, subscriptions); var val = ++value; sent++;
        tasks.Add(Task.Run(async () =>
        {
            await Send(HttpMethod.Patch, $"entities/urn:ngsi-ld:Vehicle:{id}/attrs", $$"""{"speed": {"type": "Property", "value": {{val}} } }""");
            var key = $"urn:ngsi-ld:Vehicle:{id}/{val}";
            acks[key] = Stopwatch.GetTimestamp();
            if (early.TryRemove(key, out _) && acks.TryRemove(key, out _))
            {
                latencies.Add(0);
            }
        }));
    }
    await Task.Delay(1);
}
await Task.WhenAll(tasks);
await Task.Delay(3000);
var sorted = latencies.OrderBy(x => x).ToArray();
double P(double q) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];
Console.WriteLine($"open loop: {sent} updates in {seconds} s ({sent / (double)seconds:F0}/s), notifications {Interlocked.Read(ref received)}, latencies measured {sorted.Length}, latency ms p50 {P(0.5):F1} p95 {P(0.95):F1} p99 {P(0.99):F1} max {P(1):F1}");
await app.StopAsync();
