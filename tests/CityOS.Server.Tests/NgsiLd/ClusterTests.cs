using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using CityOS.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Npgsql;

namespace CityOS.Server.Tests.NgsiLd;

/// <summary>
/// Two real CityOS nodes on one PostgreSQL schema, behind one public URL as a load balancer would put them, so
/// that a hosted @context URL is local to both and never fetched over HTTP.
/// </summary>
public sealed class TwoPostgresNodes : IAsyncLifetime
{
    /// <summary>Unresolvable on purpose: a node that tried to download its own hosted context would fail.</summary>
    public const string PublicUrl = "http://cityos-cluster.invalid";

    private readonly List<WebApplication> _apps = [];
    private readonly List<string> _directories = [];
    private PostgresTestSchema? _schema;

    public string ConnectionString => _schema!.ConnectionString;

    public HttpClient A { get; private set; } = null!;

    public HttpClient B { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _schema = await PostgresTestSchema.CreateAsync();
        A = await StartNodeAsync(_schema.ConnectionString);
        B = await StartNodeAsync(_schema.ConnectionString);
    }

    public async Task DisposeAsync()
    {
        A?.Dispose();
        B?.Dispose();
        foreach (var app in _apps)
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }

        if (_schema is not null)
        {
            await _schema.DropAsync();
        }

        foreach (var directory in _directories)
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
                // Left for the temp cleaner.
            }
        }
    }

    private async Task<HttpClient> StartNodeAsync(string connectionString)
    {
        var directory = Path.Combine(Path.GetTempPath(), "cityos-node-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        _directories.Add(directory);
        var app = ServerHost.Build(new Dictionary<string, string?>
        {
            ["CityOS:Urls"] = "http://127.0.0.1:0",
            ["CityOS:PublicUrl"] = PublicUrl,
            ["CityOS:DataDirectory"] = directory,
            ["CityOS:Store"] = "postgres",
            ["CityOS:ConnectionString"] = connectionString,
            ["Logging:LogLevel:Default"] = "Warning",
        });
        _apps.Add(app);
        await app.StartAsync();
        var client = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };
        client.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        return client;
    }
}

public sealed class ClusterTests(TwoPostgresNodes nodes) : IClassFixture<TwoPostgresNodes>
{
    private static readonly TimeSpan PropagationLimit = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task Context_hosted_on_one_node_is_used_and_then_deleted_on_the_other()
    {
        var id = Http.NewId("Sensor");
        using var created = await nodes.A.NgPostAsync("entities", $$$"""{"id": "{{{id}}}", "type": "https://example.org/Sensor", "https://example.org/temperature": {"type": "Property", "value": 21}}""");
        await created.ExpectAsync(HttpStatusCode.Created);

        using var hosted = await nodes.A.NgPostAsync("jsonldContexts", """{"@context": {"temp": "https://example.org/temperature", "Sensor": "https://example.org/Sensor"}}""");
        await hosted.ExpectAsync(HttpStatusCode.Created);
        var contextUrl = hosted.Headers.Location!.ToString();
        Assert.StartsWith(TwoPostgresNodes.PublicUrl, contextUrl, StringComparison.Ordinal);
        var localId = contextUrl[(contextUrl.LastIndexOf('/') + 1)..];

        // B compacts with the context A hosts: it knows the document without any HTTP (the public URL does not resolve).
        var read = await EventuallyAsync(async () =>
        {
            using var response = await nodes.B.NgGetAsync($"entities/{id}", link: contextUrl);
            return response.StatusCode == HttpStatusCode.OK ? await response.JsonAsync() : null;
        });
        Assert.Equal("Sensor", (string?)read["type"]);
        Assert.Equal(21, (int?)read["temp"]?["value"]);

        using var deleted = await nodes.A.NgDeleteAsync($"jsonldContexts/{localId}");
        await deleted.ExpectAsync(HttpStatusCode.NoContent);
        await EventuallyAsync(async () =>
        {
            using var response = await nodes.B.NgGetAsync($"jsonldContexts/{localId}");
            return response.StatusCode == HttpStatusCode.NotFound ? response.StatusCode : (HttpStatusCode?)null;
        });

        // Gone for resolution too, not only from the listing: processed contexts built from it are dropped.
        using var stale = await nodes.B.NgGetAsync($"entities/{id}", link: contextUrl);
        Assert.NotEqual(HttpStatusCode.OK, stale.StatusCode);
    }

    [Fact]
    public async Task Entity_written_on_one_node_is_read_on_the_other()
    {
        var id = Http.NewId("Bin");
        using var created = await nodes.A.NgPostAsync("entities", $$$"""{"id": "{{{id}}}", "type": "Bin", "fill": {"type": "Property", "value": 0.5}}""", link: Http.CoreContext);
        await created.ExpectAsync(HttpStatusCode.Created);

        using var read = await nodes.B.NgGetAsync($"entities/{id}");
        await read.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(0.5, (double?)(await read.JsonAsync())["fill"]?["value"]);
    }

    [Fact]
    public async Task Concurrent_partial_updates_through_both_nodes_lose_nothing()
    {
        const int attributes = 40;
        var id = Http.NewId("Board");
        var initial = string.Join(", ", Enumerable.Range(0, attributes).Select(i => $$$"""
            "https://example.org/a{{{i}}}": {"type": "Property", "value": 0}
            """));
        using var created = await nodes.A.NgPostAsync("entities", $$$"""{"id": "{{{id}}}", "type": "https://example.org/Board", {{{initial}}}}""");
        await created.ExpectAsync(HttpStatusCode.Created);

        var updates = Enumerable.Range(0, attributes).Select(async i =>
        {
            var node = i % 2 == 0 ? nodes.A : nodes.B;
            using var patched = await node.NgPatchAsync($"entities/{id}/attrs", $$$"""{"https://example.org/a{{{i}}}": {"type": "Property", "value": {{{i + 1}}}}}""");
            await patched.ExpectAsync(HttpStatusCode.NoContent);
        });
        await Task.WhenAll(updates);

        foreach (var node in new[] { nodes.A, nodes.B })
        {
            using var read = await node.NgGetAsync($"entities/{id}");
            await read.ExpectAsync(HttpStatusCode.OK);
            var entity = await read.JsonAsync();
            for (var i = 0; i < attributes; i++)
            {
                Assert.Equal(i + 1, (int?)entity[$"https://example.org/a{i}"]?["value"]);
            }
        }
    }

    [Fact]
    public async Task After_losing_its_listen_connection_a_node_reloads_what_it_missed()
    {
        // Written behind the nodes' backs, so no NOTIFY ever announces it: only a resync finds it.
        var localId = Guid.NewGuid().ToString("N");
        await using var connection = new NpgsqlConnection(nodes.ConnectionString);
        await connection.OpenAsync();
        await using (var insert = new NpgsqlCommand("INSERT INTO contexts (id, kind, body, created_at) VALUES ($1, 'Hosted', $2, $3)", connection))
        {
            insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = localId });
            insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = """{"@context":{"Lorry":"https://example.org/Lorry"}}""" });
            insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture) });
            await insert.ExecuteNonQueryAsync();
        }

        using (var before = await nodes.B.NgGetAsync($"jsonldContexts/{localId}"))
        {
            await before.ExpectAsync(HttpStatusCode.NotFound);
        }

        // Cut the LISTEN connections of these two nodes (their channel is derived from this schema).
        var schema = new NpgsqlConnectionStringBuilder(nodes.ConnectionString).SearchPath!.Split(',')[0];
        await using (var terminate = new NpgsqlCommand(
            """
            SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
            WHERE application_name = 'cityos-cluster-listener cityos:' || left(md5($1), 24)
            """,
            connection))
        {
            terminate.Parameters.Add(new NpgsqlParameter<string> { TypedValue = schema });
            Assert.Equal(2L, await terminate.ExecuteScalarAsync());
        }

        foreach (var node in new[] { nodes.A, nodes.B })
        {
            await EventuallyAsync(async () =>
            {
                using var response = await node.NgGetAsync($"jsonldContexts/{localId}");
                return response.StatusCode == HttpStatusCode.OK ? response.StatusCode : (HttpStatusCode?)null;
            });
        }
    }

    private static async Task<T> EventuallyAsync<T>(Func<Task<T?>> probe)
    {
        var deadline = DateTime.UtcNow + PropagationLimit;
        while (true)
        {
            if (await probe() is { } value)
            {
                return value;
            }

            Assert.True(DateTime.UtcNow < deadline, $"The other node did not follow within {PropagationLimit.TotalSeconds} s.");
            await Task.Delay(50);
        }
    }
}
