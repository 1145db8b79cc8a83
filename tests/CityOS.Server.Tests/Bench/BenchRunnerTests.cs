using System.Text.Json.Nodes;
using CityOS.Server.Bench;

namespace CityOS.Server.Tests.Bench;

public sealed class BenchRunnerTests : IAsyncLifetime
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "cityos-bench-" + Guid.NewGuid().ToString("N"));
    private FakeBroker _broker = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_directory);
        _broker = await FakeBroker.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _broker.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Default_scenarios_run_against_a_broker_and_each_gets_a_verdict_in_the_file()
    {
        var (exitCode, output, json) = await RunAsync(Options());

        Assert.Equal(0, exitCode);
        Assert.True((bool)json["completed"]!);
        Assert.Equal("FakeBroker 9.9", (string?)json["serverVersion"]);
        var names = json["scenarios"]!.AsArray().Select(s => (string)s!["name"]!).ToArray();
        Assert.Equal(["create", "update", "batch", "query", "query-c2", "geo", "geo-c2"], names);
        foreach (var scenario in json["scenarios"]!.AsArray())
        {
            Assert.True((long)scenario!["requests"]! > 0, (string?)scenario["name"]);
            Assert.Equal(0, (long)scenario["errors"]!);
            Assert.NotNull(scenario["achieved"]);
            Assert.NotNull(scenario["met"]);
            Assert.NotNull(scenario["latencyMs"]!["p95"]);
        }

        Assert.Contains("scenario", output, StringComparison.Ordinal);
        Assert.Equal(["bench-test"], _broker.Tenants.Keys);
        Assert.Equal(["application/json"], _broker.ContentTypes.Keys);
    }

    [Fact]
    public async Task Scenarios_send_what_the_ngsi_ld_api_expects()
    {
        var (_, _, json) = await RunAsync(Options() with { Scenarios = ["create", "update", "batch", "query", "geo"] });
        var scenarios = json["scenarios"]!.AsArray();

        // create: one new entity per successful request, ids unique (no 409 counted as error).
        var created = (long)scenarios[0]!["requests"]!;
        var batchEntities = (long)scenarios[2]!["requests"]! * 1000;
        Assert.Equal(1000 + created + batchEntities, _broker.CountOf("AirQualityObserved"));

        // update: partial updates of the one attribute on the pool created first.
        Assert.NotEmpty(_broker.PatchedAttributes);
        Assert.All(_broker.PatchedAttributes, a => Assert.Equal("no2", a));

        // query/geo: the dataset was seeded, then filtered with an encoded q and a near geo-query.
        Assert.Equal(2500, _broker.CountOf("WeatherObserved"));
        var queries = _broker.Queries.ToArray();
        Assert.Contains(queries, q => q.Contains("type=WeatherObserved&limit=0&count=true", StringComparison.Ordinal));
        Assert.Contains(queries, q => q.Contains("q=temperature%3E20&limit=100", StringComparison.Ordinal));
        Assert.Contains(queries, q => q.Contains("georel=near%3BmaxDistance%3D%3D2000&geometry=Point&coordinates=%5B", StringComparison.Ordinal));
        Assert.Contains("2500 matched", (string?)scenarios[3]!["note"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Seeded_dataset_is_not_seeded_again()
    {
        await RunAsync(Options() with { Scenarios = ["query"] });
        var upserts = _broker.UpsertRequests;

        var (_, output, json) = await RunAsync(Options() with { Scenarios = ["geo"] });

        Assert.Equal(3, upserts);
        Assert.Equal(upserts, _broker.UpsertRequests);
        Assert.Contains("already seeded", output, StringComparison.Ordinal);
        Assert.Contains("already seeded", (string?)json["scenarios"]![0]!["note"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Refused_requests_count_as_errors_and_the_first_body_is_kept()
    {
        _broker.FailCreates = true;

        var (exitCode, output, json) = await RunAsync(Options() with { Scenarios = ["create"] });

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
        _broker.FailFilteredQueries = true;

        var (_, _, json) = await RunAsync(Options() with { Scenarios = ["query"], Concurrency = 1 });

        var query = json["scenarios"]![0]!.AsObject();
        Assert.Single(json["scenarios"]!.AsArray());
        Assert.True((long)query["errors"]! > 0);
        Assert.False((bool)query["met"]!);
        Assert.False(query.ContainsKey("latencyMs"));
        Assert.Contains("queries failed", (string?)query["note"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Requests_unanswered_within_the_timeout_count_as_errors()
    {
        _broker.CreateDelay = TimeSpan.FromSeconds(5);

        var (exitCode, _, json) = await RunAsync(Options() with { Scenarios = ["create"], RequestTimeout = TimeSpan.FromMilliseconds(300), Concurrency = 2 });

        var create = json["scenarios"]![0]!;
        Assert.Equal(0, exitCode);
        Assert.Equal(0, (long)create["requests"]!);
        Assert.InRange((long)create["errors"]!, 2, 20);
        Assert.Contains("no complete answer within", (string?)create["firstError"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rss1m_loads_entities_and_reports_the_server_memory()
    {
        var (_, _, json) = await RunAsync(Options() with { Scenarios = ["rss1m"], ServerPid = Environment.ProcessId, Rss1mEntities = 3000 });

        var rss = json["scenarios"]![0]!;
        Assert.Equal(3000, _broker.CountOf("NoiseLevelObserved"));
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
        Assert.Empty(_broker.Entities);
        Assert.False((bool)rss["met"]!);
        Assert.False(rss.ContainsKey("achieved"));
        Assert.Contains("--server-pid", (string?)rss["note"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Interrupted_run_still_writes_what_it_measured()
    {
        var options = Options() with { Scenarios = ["create", "batch"], DurationSeconds = 2 };
        using var cancellation = new CancellationTokenSource();
        using var output = new StringWriter();
        using var runner = new BenchRunner(options, output);

        cancellation.CancelAfter(TimeSpan.FromSeconds(3));
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
        await _broker.DisposeAsync();
        _broker = await FakeBroker.StartAsync();
        var closed = new Uri(_broker.BaseUrl);
        await _broker.DisposeAsync();
        _broker = await FakeBroker.StartAsync();
        var options = Options() with { Target = closed };

        using var output = new StringWriter();
        using var runner = new BenchRunner(options, output);
        Assert.Equal(1, await runner.RunAsync(CancellationToken.None));
        Assert.Contains("cannot reach the server", output.ToString(), StringComparison.Ordinal);
        Assert.False(File.Exists(options.OutPath));
    }

    private BenchOptions Options() => new()
    {
        Target = new Uri(_broker.BaseUrl),
        OutPath = Path.Combine(_directory, "results.json"),
        DurationSeconds = 1,
        WarmupSeconds = 0,
        Concurrency = 4,
        ModestConcurrency = 2,
        Entities = 2500,
        UpdatePoolBatches = 1,
        Tenant = "bench-test",
    };

    private static async Task<(int ExitCode, string Output, JsonNode Json)> RunAsync(BenchOptions options)
    {
        using var output = new StringWriter();
        using var runner = new BenchRunner(options, output);
        var exitCode = await runner.RunAsync(CancellationToken.None);
        var json = JsonNode.Parse(await File.ReadAllTextAsync(options.OutPath))!;
        return (exitCode, output.ToString(), json);
    }
}
