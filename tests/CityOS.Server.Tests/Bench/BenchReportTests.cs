using System.Text.Json.Nodes;
using CityOS.Server.Bench;

namespace CityOS.Server.Tests.Bench;

public sealed class BenchReportTests
{
    [Theory]
    [InlineData(Comparisons.AtLeast, 8000, 8000.0, true)]
    [InlineData(Comparisons.AtLeast, 8000, 7999.9, false)]
    [InlineData(Comparisons.AtMost, 20, 19.5, true)]
    [InlineData(Comparisons.AtMost, 20, 20.01, false)]
    public void Met_follows_the_comparison(string comparison, double target, double achieved, bool met)
    {
        var result = Result("s", comparison, target);
        result.SetAchieved(achieved);
        Assert.Equal(met, result.Met);
    }

    [Fact]
    public void Unmeasured_figure_is_never_met()
    {
        var result = Result("rss1m", Comparisons.AtMost, 1024);
        result.SetAchieved(null);
        Assert.False(result.Met);
        Assert.Null(result.Achieved);
    }

    [Fact]
    public async Task Results_file_holds_machine_settings_and_each_scenario_verdict()
    {
        var create = Result("create", Comparisons.AtLeast, 8000);
        create.LatencyMs = new LatencySummary { P50 = 1.5, P95 = 3, P99 = 4.25 };
        create.SetAchieved(9123.456);
        var rss = Result("rss1m", Comparisons.AtMost, 1024);
        rss.SetAchieved(null);
        var report = new BenchReport
        {
            ToolVersion = "0.1.0",
            Date = "2026-11-23T15:00:00Z",
            Target = "http://127.0.0.1:1026",
            Machine = new MachineInfo { Cores = 2, Os = "Linux", Architecture = "X64", Runtime = ".NET 10" },
            Settings = new BenchSettingsReport { Scenarios = ["create", "rss1m"], DurationSeconds = 10, Concurrency = 32, Entities = 100_000, BatchSize = 1000, Tenant = "bench" },
            Completed = true,
            Scenarios = { create, rss },
        };
        var path = Path.Combine(Path.GetTempPath(), $"bench-{Guid.NewGuid():N}", "out.json");
        try
        {
            await BenchReportFile.WriteAsync(report, path, CancellationToken.None);
            var json = JsonNode.Parse(await File.ReadAllTextAsync(path))!;

            Assert.Equal(2, (int)json["machine"]!["cores"]!);
            Assert.Equal("2026-11-23T15:00:00Z", (string?)json["date"]);
            Assert.Equal("http://127.0.0.1:1026", (string?)json["target"]);
            Assert.Equal(32, (int)json["settings"]!["concurrency"]!);
            Assert.True((bool)json["completed"]!);
            var first = json["scenarios"]![0]!;
            Assert.Equal("create", (string?)first["name"]);
            Assert.Equal(8000, (double)first["target"]!);
            Assert.Equal(9123.456, (double)first["achieved"]!);
            Assert.Equal("requests/s", (string?)first["unit"]);
            Assert.True((bool)first["met"]!);
            Assert.Equal(3, (double)first["latencyMs"]!["p95"]!);
            var second = json["scenarios"]![1]!.AsObject();
            Assert.False((bool)second["met"]!);
            Assert.False(second.ContainsKey("achieved"));
            Assert.False(File.Exists(path + ".tmp"));
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        }
    }

    [Fact]
    public void Console_line_and_table_show_verdict_and_figures()
    {
        var query = Result("query", Comparisons.AtMost, 20, "ms");
        query.LatencyMs = new LatencySummary { P50 = 2, P95 = 25.5, P99 = 40 };
        query.SetAchieved(25.5);
        query.Errors = 3;

        var line = BenchConsole.FormatLine(query);
        Assert.Contains("25.50 ms", line, StringComparison.Ordinal);
        Assert.Contains("≤ 20.00 ms", line, StringComparison.Ordinal);
        Assert.Contains("MISSED", line, StringComparison.Ordinal);
        Assert.Contains("errors 3", line, StringComparison.Ordinal);

        var table = BenchConsole.FormatTable([query]).Split('\n');
        Assert.StartsWith("scenario", table[0], StringComparison.Ordinal);
        Assert.StartsWith("query", table[2], StringComparison.Ordinal);
        Assert.Contains("NO", table[2], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, true)]
    [InlineData(3, false)]
    public async Task Twonode_is_met_only_without_lost_updates_and_reports_them_with_throughput(long lost, bool met)
    {
        var twonode = Result("twonode", Comparisons.AtMost, 0, Units.LostUpdates);
        twonode.RequestsPerSecond = 1234.4;
        twonode.LatencyMs = new LatencySummary { P50 = 4, P95 = 9.5, P99 = 12 };
        twonode.LostUpdates = lost;
        twonode.SetAchieved(lost);
        Assert.Equal(met, twonode.Met);

        var line = BenchConsole.FormatLine(twonode);
        Assert.Contains($"{lost} lost updates", line, StringComparison.Ordinal);
        Assert.Contains("≤ 0 lost updates", line, StringComparison.Ordinal);
        Assert.Contains("1,234 updates/s", line, StringComparison.Ordinal);
        Assert.Contains("p95 9.50 ms", line, StringComparison.Ordinal);

        var report = new BenchReport
        {
            ToolVersion = "0.1.0",
            Date = "2026-11-23T15:00:00Z",
            Target = "http://127.0.0.1:1026",
            Target2 = "http://127.0.0.1:1027",
            Machine = new MachineInfo { Cores = 2, Os = "Linux", Architecture = "X64", Runtime = ".NET 10" },
            Settings = new BenchSettingsReport { Scenarios = ["twonode"], DurationSeconds = 10, Concurrency = 32, Entities = 100_000, BatchSize = 1000 },
            Scenarios = { twonode },
        };
        var path = Path.Combine(Path.GetTempPath(), $"bench-{Guid.NewGuid():N}.json");
        try
        {
            await BenchReportFile.WriteAsync(report, path, CancellationToken.None);
            var json = JsonNode.Parse(await File.ReadAllTextAsync(path))!;
            Assert.Equal("http://127.0.0.1:1027", (string?)json["target2"]);
            Assert.Equal(lost, (long)json["scenarios"]![0]!["lostUpdates"]!);
            Assert.Equal(met, (bool)json["scenarios"]![0]!["met"]!);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static ScenarioResult Result(string name, string comparison, double target, string unit = "requests/s") => new()
    {
        Name = name,
        Description = name,
        Target = target,
        Unit = unit,
        Comparison = comparison,
    };
}
