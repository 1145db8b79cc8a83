using CityOS.Server.Bench;

namespace CityOS.Server.Tests.Bench;

public sealed class BenchOptionsTests
{
    [Fact]
    public void No_scenarios_means_the_default_five_without_rss1m()
    {
        Assert.True(BenchOptions.TryParseScenarios(null, out var scenarios, out _));
        Assert.Equal(["create", "update", "batch", "query", "geo"], scenarios);
    }

    [Fact]
    public void Scenarios_keep_the_given_order_accept_rss_and_drop_duplicates()
    {
        Assert.True(BenchOptions.TryParseScenarios(" geo,RSS, create ,geo", out var scenarios, out _));
        Assert.Equal(["geo", "rss1m", "create"], scenarios);
    }

    [Theory]
    [InlineData("create,delete")]
    [InlineData(",,")]
    public void Unknown_or_empty_scenario_lists_are_refused(string text)
    {
        Assert.False(BenchOptions.TryParseScenarios(text, out _, out var error));
        Assert.False(string.IsNullOrEmpty(error));
    }

    [Fact]
    public void Defaults_are_valid()
    {
        var options = new BenchOptions { Target = new Uri("http://127.0.0.1:1026/"), OutPath = "x.json" };
        Assert.Null(options.Validate());
        Assert.Equal("http://127.0.0.1:1026", options.BaseUrl);
    }

    [Theory]
    [InlineData(0, 32, 100, null, "--duration")]
    [InlineData(10, 0, 100, null, "--concurrency")]
    [InlineData(10, 32, 0, null, "--entities")]
    [InlineData(10, 32, 100, "a b", "--tenant")]
    public void Out_of_range_settings_name_the_option(int duration, int concurrency, int entities, string? tenant, string option)
    {
        var options = new BenchOptions
        {
            Target = new Uri("http://127.0.0.1:1026"),
            OutPath = "x.json",
            DurationSeconds = duration,
            Concurrency = concurrency,
            Entities = entities,
            Tenant = tenant,
        };
        Assert.StartsWith(option, options.Validate(), StringComparison.Ordinal);
    }
}
