using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using CityOS.Server.Bench;
using CityOS.Server.Tests.NgsiLd;

namespace CityOS.Server.Tests.Bench;

/// <summary>
/// <c>cityos bench</c> against the real CityOS app (one server for the class; every test uses its own
/// tenant, so datasets never mix). Phases are a fraction of a second and datasets a few hundred entities.
/// </summary>
public abstract class BenchRunnerTests : IDisposable
{
    private const int Entities = 300;
    private const int BatchSize = 50;

    private readonly CityOSServer _server;
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "cityos-bench-" + Guid.NewGuid().ToString("N"));
    private readonly string _tenant = "bench-" + Guid.NewGuid().ToString("N")[..12];

    protected BenchRunnerTests(CityOSServer server)
    {
        _server = server;
        Directory.CreateDirectory(_directory);
    }

    public void Dispose()
    {
        Directory.Delete(_directory, recursive: true);
        GC.SuppressFinalize(this);
    }

    [Fact]
    public async Task Default_scenarios_run_against_the_broker_and_each_gets_a_verdict_in_the_file()
    {
        var (exitCode, output, json) = await RunAsync(Options() with { WarmupSeconds = 0.2 });

        Assert.Equal(0, exitCode);
        Assert.True((bool)json["completed"]!);
        Assert.Equal(0.2, (double)json["settings"]!["warmupSeconds"]!);
        Assert.StartsWith("CityOS ", (string?)json["serverVersion"], StringComparison.Ordinal);
        // The store named by /version sets the write targets (PostgreSQL's issue asks half of SQLite's).
        var postgres = _server.Store == TestStore.Postgres;
        Assert.Equal(postgres ? "postgres" : "sqlite", (string?)json["store"]);
        Assert.Equal(postgres ? 4000 : 8000, (double)json["scenarios"]![0]!["target"]!);
        var names = json["scenarios"]!.AsArray().Select(s => (string)s!["name"]!).ToArray();
        Assert.Equal(["create", "update", "batch", "query", "query-c2", "geo", "geo-c2"], names);
        foreach (var scenario in json["scenarios"]!.AsArray())
        {
            Assert.True((long)scenario!["requests"]! > 0, (string?)scenario["name"]);
            Assert.True(0 == (long)scenario["errors"]!, $"{scenario["name"]}: {scenario["firstError"]}");
            Assert.NotNull(scenario["achieved"]);
            Assert.NotNull(scenario["met"]);
            Assert.NotNull(scenario["latencyMs"]!["p95"]);
        }

        Assert.Contains("scenario", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Temporal_scenario_back_fills_the_history_then_times_aggregation_and_lastN()
    {
        var (exitCode, _, json) = await RunAsync(Options() with { Scenarios = ["temporal"], TemporalInstances = 2_500, TemporalBatchSize = 1_000 });

        Assert.Equal(0, exitCode);
        var scenarios = json["scenarios"]!.AsArray();
        Assert.Equal(["temporal-load", "temporal-aggr", "temporal-lastn"], scenarios.Select(s => (string)s!["name"]!).ToArray());
        Assert.All(scenarios, s => Assert.True(0 == (long)s!["errors"]!, $"{s["name"]}: {s["firstError"]}"));
        Assert.Equal(3L, (long)scenarios[0]!["requests"]!);
        Assert.Contains("100 instances", (string?)scenarios[2]!["note"], StringComparison.Ordinal);
        Assert.Contains("hourly buckets", (string?)scenarios[1]!["note"], StringComparison.Ordinal);

        // Every reading went in, one every 30 s from the start.
        var id = Uri.EscapeDataString((string)(await (await _server.Client.NgGetAsync("entities?type=TemporalSensor", _tenant)).JsonAsync())[0]!["id"]!);
        using var response = await _server.Client.NgGetAsync($"temporal/entities/{id}?options=aggregatedValues&aggrMethods=totalCount", _tenant);
        await response.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(2_500, (long)(await response.JsonAsync())["temperature"]!["totalCount"]![0]![0]!);
    }

    [Fact]
    public async Task Scenarios_leave_in_the_broker_exactly_what_they_sent()
    {
        var (_, _, json) = await RunAsync(Options() with { Scenarios = ["create", "update", "batch", "query", "geo"] });
        var scenarios = json["scenarios"]!.AsArray();
        Assert.All(scenarios, s => Assert.True(0 == (long)s!["errors"]!, $"{s["name"]}: {s["firstError"]}"));

        // create: one new entity per successful request; batch: BatchSize new ones per request; plus the update pool.
        var created = (long)scenarios[0]!["requests"]!;
        var batchEntities = (long)scenarios[2]!["requests"]! * BatchSize;
        Assert.Equal(BatchSize + created + batchEntities, await CountAsync("AirQualityObserved", _tenant));

        // update: a partial attribute update changes the value and keeps the members it did not send.
        using var pooled = await _server.Client.NgGetAsync("entities/urn:ngsi-ld:AirQualityObserved:bench-u000000000000?options=sysAttrs", _tenant);
        await pooled.ExpectAsync(HttpStatusCode.OK);
        var no2 = (await pooled.JsonAsync())["no2"]!;
        Assert.Equal("GQ", (string?)no2["unitCode"]);
        Assert.NotEqual((string?)no2["createdAt"], (string?)no2["modifiedAt"]);

        // query/geo: the dataset was seeded once, in the bench tenant only, and the sample shows what matched.
        Assert.Equal(Entities, await CountAsync("WeatherObserved", _tenant));
        var warm = Enumerable.Range(0, Entities).Count(i => EntityPayloads.WeatherValues(i).Temperature > 20);
        Assert.Contains($"temperature>20&limit=100: {warm} matched", (string?)scenarios[3]!["note"], StringComparison.Ordinal);
        Assert.Matches(@"sample .*georel=near;maxDistance==2000.*: \d+ matched", (string?)scenarios[5]!["note"]);
        var otherTenant = Guid.NewGuid().ToString("N");
        using var create = await _server.Client.NgPostAsync("entities", $$"""{"id":"{{Http.NewId()}}","type":"Thing"}""", otherTenant);
        Assert.Equal(0, await CountAsync("WeatherObserved", otherTenant));
    }

    [Fact]
    public async Task Seeded_dataset_is_not_seeded_again()
    {
        await RunAsync(Options() with { Scenarios = ["query"] });
        var seeded = await CountAsync("WeatherObserved", _tenant);

        var (_, output, json) = await RunAsync(Options() with { Scenarios = ["geo"] });

        Assert.Equal(Entities, seeded);
        Assert.Equal(Entities, await CountAsync("WeatherObserved", _tenant));
        Assert.Contains("already seeded", output, StringComparison.Ordinal);
        Assert.Contains("already seeded", (string?)json["scenarios"]![0]!["note"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Refused_requests_count_as_errors_and_the_first_body_is_kept()
    {
        // The broker refuses a tenant name with '/' (400 BadRequestData) on every request.
        var (exitCode, output, json) = await RunAsync(Options() with { Scenarios = ["create"], Tenant = "no/such/tenant" });

        Assert.Equal(0, exitCode);
        var create = json["scenarios"]![0]!;
        Assert.Equal(0, (long)create["requests"]!);
        Assert.True((long)create["errors"]! > 0);
        Assert.False((bool)create["met"]!);
        Assert.Contains("400", (string?)create["firstError"], StringComparison.Ordinal);
        Assert.Contains("BadRequestData", (string?)create["firstError"], StringComparison.Ordinal);
        Assert.Contains("first error:", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Failing_queries_do_not_meet_the_latency_target()
    {
        // A broker whose page cap is below the bench's limit=100 answers every query 403 TooManyResults,
        // while seeding and counting (limit=0) still work.
        var strict = new CityOSServer();
        strict.Settings["CityOS:Broker:MaxPageSize"] = "50";
        await strict.InitializeAsync();
        try
        {
            var (_, _, json) = await RunAsync(Options(strict) with { Scenarios = ["query"], Concurrency = 1 });

            var query = json["scenarios"]![0]!.AsObject();
            Assert.Single(json["scenarios"]!.AsArray());
            Assert.True((long)query["errors"]! > 0);
            Assert.Contains("TooManyResults", (string?)query["firstError"], StringComparison.Ordinal);
            Assert.False((bool)query["met"]!);
            Assert.False(query.ContainsKey("latencyMs"));
            Assert.Contains("queries failed", (string?)query["note"], StringComparison.Ordinal);
        }
        finally
        {
            await strict.DisposeAsync();
        }
    }

    [Fact]
    public async Task Requests_unanswered_within_the_timeout_count_as_errors()
    {
        // No durable write over HTTP completes within a millisecond.
        var (exitCode, _, json) = await RunAsync(Options() with { Scenarios = ["create"], RequestTimeout = TimeSpan.FromMilliseconds(1), Concurrency = 2 });

        var create = json["scenarios"]![0]!;
        Assert.Equal(0, exitCode);
        Assert.True((long)create["errors"]! > 0);
        Assert.Contains("no complete answer within", (string?)create["firstError"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rss1m_loads_entities_and_reports_the_server_memory()
    {
        // The server runs inside the test process, so its pid is ours.
        var (_, _, json) = await RunAsync(Options() with { Scenarios = ["rss1m"], ServerPid = Environment.ProcessId, Rss1mEntities = 200 });

        var rss = json["scenarios"]![0]!;
        Assert.Equal(200, await CountAsync("NoiseLevelObserved", _tenant));
        Assert.Equal("MiB", (string?)rss["unit"]);
        Assert.True((double)rss["achieved"]! > 1);
        Assert.True((long)rss["serverMemory"]!["vmRssBytes"]! > 0);
        Assert.Equal(1024, (double)rss["target"]!);
    }

    [Fact]
    public async Task Rss1m_without_a_server_pid_loads_nothing_and_is_not_met()
    {
        var (exitCode, _, json) = await RunAsync(Options() with { Scenarios = ["rss1m"] });

        var rss = json["scenarios"]![0]!.AsObject();
        Assert.Equal(0, exitCode);
        Assert.Equal(0, await CountAsync("NoiseLevelObserved", _tenant));
        Assert.False((bool)rss["met"]!);
        Assert.False(rss.ContainsKey("achieved"));
        Assert.Contains("--server-pid", (string?)rss["note"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Interrupted_run_still_writes_what_it_measured()
    {
        // Interrupt as soon as the first scenario has reported, whatever the machine's load: a fixed delay
        // raced the scenario's own timing on a busy box.
        var options = Options() with { Scenarios = ["create", "batch"], PhaseDuration = TimeSpan.FromSeconds(1.5) };
        using var cancellation = new CancellationTokenSource();
        using var output = new CancelOnLine(cancellation, "create ");
        using var runner = new BenchRunner(options, output);

        var exitCode = await runner.RunAsync(cancellation.Token);

        Assert.Equal(BenchRunner.InterruptedExitCode, exitCode);
        var json = JsonNode.Parse(await File.ReadAllTextAsync(options.OutPath))!;
        Assert.False((bool)json["completed"]!);
        Assert.Equal("create", (string?)Assert.Single(json["scenarios"]!.AsArray())!["name"]);
        Assert.Contains("interrupted", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unreachable_server_fails_before_any_scenario()
    {
        // A port that was free a moment ago and on which nothing listens.
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        var options = Options() with { Target = new Uri($"http://127.0.0.1:{port}") };

        using var output = new StringWriter();
        using var runner = new BenchRunner(options, output);
        Assert.Equal(1, await runner.RunAsync(CancellationToken.None));
        Assert.Contains("cannot reach the server", output.ToString(), StringComparison.Ordinal);
        Assert.False(File.Exists(options.OutPath));
    }

    private BenchOptions Options(CityOSServer? server = null) => new()
    {
        Target = (server ?? _server).BaseAddress,
        OutPath = Path.Combine(_directory, "results.json"),
        DurationSeconds = 1,
        PhaseDuration = TimeSpan.FromMilliseconds(300),
        WarmupSeconds = 0,
        Concurrency = 4,
        ModestConcurrency = 2,
        Entities = Entities,
        BatchSize = BatchSize,
        UpdatePoolBatches = 1,
        Tenant = _tenant,
    };

    private async Task<long> CountAsync(string type, string tenant)
    {
        using var response = await _server.Client.NgGetAsync($"entities?type={type}&limit=0&count=true", tenant);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return 0;
        }

        await response.ExpectAsync(HttpStatusCode.OK);
        return long.Parse(response.Headers.GetValues("NGSILD-Results-Count").Single(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task<(int ExitCode, string Output, JsonNode Json)> RunAsync(BenchOptions options)
    {
        using var output = new StringWriter();
        using var runner = new BenchRunner(options, output);
        var exitCode = await runner.RunAsync(CancellationToken.None);
        var json = JsonNode.Parse(await File.ReadAllTextAsync(options.OutPath))!;
        return (exitCode, output.ToString(), json);
    }

    /// <summary>Collects output and cancels once a line starting with a given text has been written.</summary>
    private sealed class CancelOnLine(CancellationTokenSource cancellation, string prefix) : StringWriter
    {
        public override void WriteLine(string? value)
        {
            base.WriteLine(value);
            if (value is not null && value.StartsWith(prefix, StringComparison.Ordinal))
            {
                cancellation.Cancel();
            }
        }

        public override Task WriteLineAsync(string? value)
        {
            WriteLine(value);
            return Task.CompletedTask;
        }
    }
}

public sealed class BenchRunnerTestsOnSqlite(SqliteServer server) : BenchRunnerTests(server), IClassFixture<SqliteServer>;

public sealed class BenchRunnerTestsOnPostgres(PostgresServer server) : BenchRunnerTests(server), IClassFixture<PostgresServer>;
