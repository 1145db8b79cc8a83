using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using CityOS.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Npgsql;

namespace CityOS.Server.Tests;

/// <summary>
/// /health of a PostgreSQL node while its LISTEN connection is down. The node runs in a database of its own, so
/// that the test can refuse new connections to it (<c>ALLOW_CONNECTIONS false</c>) without touching other tests:
/// connections already open (the store's pool) keep working, a LISTEN connection that is cut cannot come back.
/// </summary>
public sealed class ClusterHealthTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);
    private readonly string _database = "health_" + Guid.NewGuid().ToString("N");
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "cityos-health-" + Guid.NewGuid().ToString("N"));
    private WebApplication? _app;
    private HttpClient Client { get; set; } = null!;

    private string ConnectionString => new NpgsqlConnectionStringBuilder(PostgresTestSchema.ServerConnectionString) { Database = _database }.ConnectionString;

    public async Task InitializeAsync()
    {
        await AdminAsync($"CREATE DATABASE {_database}");
        Directory.CreateDirectory(_directory);
        _app = ServerHost.Build(new Dictionary<string, string?>
        {
            ["CityOS:Urls"] = "http://127.0.0.1:0",
            ["CityOS:DataDirectory"] = _directory,
            ["CityOS:Store"] = "postgres",
            ["CityOS:ConnectionString"] = ConnectionString,
            ["Logging:LogLevel:Default"] = "Error",
        });
        await _app.StartAsync();
        Client = new HttpClient { BaseAddress = new Uri(_app.Urls.First()) };
        Client.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
    }

    public async Task DisposeAsync()
    {
        Client?.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        await AdminAsync($"DROP DATABASE IF EXISTS {_database} WITH (FORCE)");
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Node_whose_listen_connection_is_down_is_degraded_but_live_and_ok_again_once_it_reconnects()
    {
        var healthy = await HealthAsync(HttpStatusCode.OK);
        Assert.Equal("ok", (string?)healthy["status"]);
        var cluster = healthy["cluster"]!;
        Assert.Equal(("postgres-listen", "connected", true, 0), ((string?)cluster["transport"], (string?)cluster["state"], (bool)cluster["connected"]!, (int)cluster["reconnects"]!));
        var connectedSince = Since(cluster);

        await AdminAsync($"ALTER DATABASE {_database} ALLOW_CONNECTIONS false");
        try
        {
            Assert.Equal(1L, await AdminAsync(
                $"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{_database}' AND application_name LIKE 'cityos-cluster-listener%'"));

            var degraded = await EventuallyAsync(async () => await HealthAsync(HttpStatusCode.OK) is { } h && (string?)h["status"] == "degraded" ? h : null);
            Assert.Equal("ok", (string?)degraded["liveness"]);
            Assert.Equal("ok", (string?)degraded["storage"]);
            Assert.Equal(("disconnected", false, 0), ((string?)degraded["cluster"]!["state"], (bool)degraded["cluster"]!["connected"]!, (int)degraded["cluster"]!["reconnects"]!));
            var downSince = Since(degraded["cluster"]!);
            Assert.True(downSince >= connectedSince);

            // Still down a moment later, and still dated from when it was lost, not from the latest retry.
            await Task.Delay(600);
            var still = await HealthAsync(HttpStatusCode.OK);
            Assert.Equal("degraded", (string?)still["status"]);
            Assert.Equal(downSince, Since(still["cluster"]!));
        }
        finally
        {
            await AdminAsync($"ALTER DATABASE {_database} ALLOW_CONNECTIONS true");
        }

        var recovered = await EventuallyAsync(async () => await HealthAsync(HttpStatusCode.OK) is { } h && (string?)h["status"] == "ok" ? h : null);
        Assert.Equal(("connected", 1), ((string?)recovered["cluster"]!["state"], (int)recovered["cluster"]!["reconnects"]!));
        Assert.True(Since(recovered["cluster"]!) > connectedSince);
    }

    private static DateTimeOffset Since(JsonNode cluster) =>
        DateTimeOffset.Parse((string)cluster["since"]!, CultureInfo.InvariantCulture);

    private async Task<JsonNode> HealthAsync(HttpStatusCode expected)
    {
        using var response = await Client.GetAsync(new Uri("/health", UriKind.Relative));
        Assert.Equal(expected, response.StatusCode);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
    }

    private static async Task<T> EventuallyAsync<T>(Func<Task<T?>> probe)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            if (await probe() is { } value)
            {
                return value;
            }

            Assert.True(DateTime.UtcNow < deadline, $"/health did not change within {Patience.TotalSeconds} s.");
            await Task.Delay(50);
        }
    }

    private static async Task<object?> AdminAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(PostgresTestSchema.ServerConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }
}
