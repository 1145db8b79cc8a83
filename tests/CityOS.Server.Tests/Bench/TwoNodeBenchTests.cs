using System.Net;
using System.Text.Json.Nodes;
using CityOS.Server.Bench;
using CityOS.Server.Tests.NgsiLd;

namespace CityOS.Server.Tests.Bench;

/// <summary>The twonode scenario of <c>cityos bench</c> against two real CityOS nodes on one PostgreSQL schema.</summary>
public sealed class TwoNodeBenchTests(TwoPostgresNodes nodes) : IClassFixture<TwoPostgresNodes>, IDisposable
{
    private const int Entities = 10;
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "cityos-twonode-" + Guid.NewGuid().ToString("N"));
    private readonly string _tenant = "bench-" + Guid.NewGuid().ToString("N")[..12];

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public async Task Concurrent_updates_split_across_two_nodes_are_all_stored_and_the_scenario_is_met()
    {
        var options = new BenchOptions
        {
            Target = nodes.A.BaseAddress!,
            Target2 = nodes.B.BaseAddress!,
            OutPath = Path.Combine(_directory, "twonode.json"),
            Scenarios = [ScenarioNames.TwoNode],
            DurationSeconds = 1,
            PhaseDuration = TimeSpan.FromSeconds(1),
            WarmupSeconds = 0.2,
            Concurrency = 8,
            ModestConcurrency = 2,
            TwoNodeEntities = Entities,
            Tenant = _tenant,
        };
        using var output = new StringWriter();
        using (var runner = new BenchRunner(options, output))
        {
            Assert.Equal(0, await runner.RunAsync(CancellationToken.None));
        }

        var json = JsonNode.Parse(await File.ReadAllTextAsync(options.OutPath))!;
        var twonode = json["scenarios"]![0]!;
        Assert.Equal(options.BaseUrl2, (string?)json["target2"]);
        Assert.Equal("twonode", (string?)twonode["name"]);
        Assert.True(0 == (long)twonode["errors"]!, (string?)twonode["firstError"]);
        Assert.Equal(0, (long)twonode["lostUpdates"]!);
        Assert.True((bool)twonode["met"]!, (string?)twonode["note"]);
        Assert.True((long)twonode["requests"]! > Entities);
        Assert.True((double)twonode["requestsPerSecond"]! > 0);
        Assert.NotNull(twonode["latencyMs"]!["p95"]);
        Assert.Contains("lost updates: 0.", (string?)twonode["note"], StringComparison.Ordinal);
        Assert.Contains("0 lost updates", output.ToString(), StringComparison.Ordinal);

        // Counted independently of the bench: every update attribute through node B, which also took half the updates.
        using var listed = await nodes.B.NgGetAsync($"entities?type=BenchLedger&limit={Entities}", _tenant);
        await listed.ExpectAsync(HttpStatusCode.OK);
        var ledgers = (await listed.JsonAsync()).AsArray();
        Assert.Equal(Entities, ledgers.Count);
        var stored = ledgers.Sum(e => e!.AsObject().Count(p => p.Key.StartsWith('u') && p.Key[1..].All(char.IsAsciiDigit)));
        Assert.Contains($"{stored:N0} found", (string?)twonode["note"], StringComparison.Ordinal);
        Assert.All(ledgers, e => Assert.True(e!.AsObject().Count > 10, "every entity took several updates"));
    }
}
