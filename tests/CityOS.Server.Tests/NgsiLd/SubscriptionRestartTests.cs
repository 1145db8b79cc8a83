using System.Net;
using System.Net.Http.Headers;
using CityOS.Server.Hosting;
using Microsoft.AspNetCore.Builder;

namespace CityOS.Server.Tests.NgsiLd;

/// <summary>
/// Subscriptions and their counters outlive the server: a restarted server on the same storage loads them and
/// notifies again, and the counters flushed at shutdown are still there.
/// </summary>
public abstract class SubscriptionRestartTests(NotificationReceiver receiver) : IAsyncLifetime
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "cityos-restart-" + Guid.NewGuid().ToString("N"));
    private PostgresTestSchema? _schema;

    protected abstract bool OnPostgres { get; }

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_directory);
        if (OnPostgres)
        {
            _schema = await PostgresTestSchema.CreateAsync();
        }
    }

    public async Task DisposeAsync()
    {
        if (_schema is not null)
        {
            await _schema.DropAsync();
        }

        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // Left for the temp cleaner.
        }
    }

    private async Task<(WebApplication App, HttpClient Client)> StartAsync()
    {
        var settings = new Dictionary<string, string?>
        {
            ["CityOS:Urls"] = "http://127.0.0.1:0",
            ["CityOS:DataDirectory"] = _directory,
            ["Logging:LogLevel:Default"] = "Warning",
        };
        if (_schema is not null)
        {
            settings["CityOS:Store"] = "postgres";
            settings["CityOS:ConnectionString"] = _schema.ConnectionString;
        }

        var app = ServerHost.Build(settings);
        await app.StartAsync();
        var client = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };
        client.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        return (app, client);
    }

    private static async Task StopAsync(WebApplication app, HttpClient client)
    {
        client.Dispose();
        await app.StopAsync();
        await app.DisposeAsync();
    }

    private static async Task CreateAsync(HttpClient client, string type)
    {
        using var response = await client.NgPostAsync("entities", $$$"""{"id": "{{{Http.NewId(type)}}}", "type": "{{{type}}}", "level": {"type": "Property", "value": 1} }""");
        await response.ExpectAsync(HttpStatusCode.Created);
    }

    [Fact]
    public async Task A_restarted_server_notifies_its_stored_subscriptions_and_keeps_their_counters()
    {
        var uri = receiver.NewEndpoint(out var path);
        var (app, client) = await StartAsync();
        string subscriptionId;
        using (var subscribed = await client.NgPostAsync("subscriptions", $$$"""{"type": "Subscription", "entities": [{"type": "Bin"}], "notification": {"endpoint": {"uri": "{{{uri}}}"} } }"""))
        {
            await subscribed.ExpectAsync(HttpStatusCode.Created);
            subscriptionId = subscribed.Headers.Location!.ToString().Split('/')[^1];
        }

        await CreateAsync(client, "Bin");
        await receiver.NextAsync(path);

        // The success is counted once the receiver's answer is back; then stop (which flushes the counters).
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            using var read = await client.NgGetAsync($"subscriptions/{subscriptionId}");
            if ((int?)(await read.JsonAsync())["notification"]!["timesSent"] == 1)
            {
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, "the first notification was never counted");
            await Task.Delay(50);
        }

        await StopAsync(app, client);

        (app, client) = await StartAsync();
        try
        {
            using (var read = await client.NgGetAsync($"subscriptions/{subscriptionId}"))
            {
                await read.ExpectAsync(HttpStatusCode.OK);
                var notification = (await read.JsonAsync())["notification"]!;
                Assert.Equal(1, (int?)notification["timesSent"]);
                Assert.NotNull(notification["lastSuccess"]);
            }

            await CreateAsync(client, "Bin");
            await receiver.NextAsync(path);
        }
        finally
        {
            await StopAsync(app, client);
        }
    }
}

public sealed class SubscriptionRestartTestsOnSqlite(NotificationReceiver receiver)
    : SubscriptionRestartTests(receiver), IClassFixture<NotificationReceiver>
{
    protected override bool OnPostgres => false;
}

public sealed class SubscriptionRestartTestsOnPostgres(NotificationReceiver receiver)
    : SubscriptionRestartTests(receiver), IClassFixture<NotificationReceiver>
{
    protected override bool OnPostgres => true;
}
