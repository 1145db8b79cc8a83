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

    [Fact]
    public void Twonode_is_known_but_not_run_by_default()
    {
        Assert.True(BenchOptions.TryParseScenarios("TwoNode", out var scenarios, out _));
        Assert.Equal(["twonode"], scenarios);
        Assert.DoesNotContain("twonode", BenchOptions.DefaultScenarios);
    }

    [Fact]
    public void Twonode_without_a_second_target_is_refused()
    {
        var options = new BenchOptions { Target = new Uri("http://127.0.0.1:1026"), OutPath = "x.json", Scenarios = ["create", "twonode"] };
        Assert.StartsWith("--scenarios twonode needs --target2", options.Validate(), StringComparison.Ordinal);
        Assert.Null((options with { Target2 = new Uri("http://127.0.0.1:1027/") }).Validate());
        Assert.Equal("http://127.0.0.1:1027", (options with { Target2 = new Uri("http://127.0.0.1:1027/") }).BaseUrl2);
    }

    [Theory]
    [InlineData("http://10.0.0.5:1026", "--target2 10.0.0.5 is not a loopback address")]
    [InlineData("ftp://127.0.0.1:1026", "--target2 must be an absolute http")]
    public void Second_target_off_this_machine_is_refused_naming_its_option(string target2, string message)
    {
        Assert.False(LoopbackTarget.TryParse(target2, out _, out var error, "--target2"));
        Assert.StartsWith(message, error, StringComparison.Ordinal);
    }

    // Exit codes only: the messages go to the process's stderr, which other test classes capture in parallel.
    [Theory]
    [InlineData("http://10.0.0.5:1026", "5")]
    [InlineData("http://127.0.0.1:1027/?q=1", "5")]
    [InlineData("http://127.0.0.1:1027", "0")]
    public async Task Command_refuses_bad_twonode_arguments_before_sending_anything(string target2, string duration)
    {
        var exitCode = await CityOS.Server.Hosting.CommandLine.Build()
            .Parse(["bench", "--target", "http://127.0.0.1:9", "--scenarios", "twonode", "--target2", target2, "--duration", duration])
            .InvokeAsync();
        Assert.Equal(BenchCommand.UsageExitCode, exitCode);
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("601")]
    public async Task Command_refuses_a_warmup_out_of_range_before_sending_anything(string warmup)
    {
        var exitCode = await CityOS.Server.Hosting.CommandLine.Build()
            .Parse(["bench", "--target", "http://127.0.0.1:9", "--warmup", warmup])
            .InvokeAsync();
        Assert.Equal(BenchCommand.UsageExitCode, exitCode);
    }

    [Fact]
    public async Task Command_refuses_twonode_without_a_second_target()
    {
        var exitCode = await CityOS.Server.Hosting.CommandLine.Build()
            .Parse(["bench", "--target", "http://127.0.0.1:9", "--scenarios", "twonode"])
            .InvokeAsync();
        Assert.Equal(BenchCommand.UsageExitCode, exitCode);
    }

    [Fact]
    public void Consecutive_updates_hit_one_entity_through_both_nodes_and_every_entity_gets_both()
    {
        Assert.Equal((0, 0), BenchRunner.TwoNodeTarget(0, 10));
        Assert.Equal((1, 0), BenchRunner.TwoNodeTarget(1, 10));
        Assert.Equal((0, 1), BenchRunner.TwoNodeTarget(2, 10));
        var pairs = Enumerable.Range(0, 40).Select(k => BenchRunner.TwoNodeTarget(k, 4)).ToHashSet();
        Assert.Equal(8, pairs.Count);
    }

    [Fact]
    public void Update_keys_are_read_from_u_attributes_only()
    {
        var body = """{"id":"urn:x","type":"BenchLedger","u0":{"type":"Property","value":0},"u17":17,"unit":{"type":"Property","value":1},"u-3":1,"ux":2}"""u8.ToArray();
        var keys = BenchRunner.ParseUpdateKeys(body);
        Assert.Equal([0L, 17L], keys.Order());
        Assert.Equal("u17", BenchRunner.UpdateAttribute(17));
    }

    [Fact]
    public void An_acknowledged_update_missing_on_either_node_is_lost_and_unacknowledged_ones_are_not()
    {
        HashSet<long> acknowledged = [1, 2, 3];
        Assert.Equal((0L, 1L, false), BenchRunner.CompareLedger(acknowledged, new HashSet<long> { 1, 2, 3, 9 }, new HashSet<long> { 1, 2, 3, 9 }));
        Assert.Equal((1L, 0L, true), BenchRunner.CompareLedger(acknowledged, new HashSet<long> { 1, 2, 3 }, new HashSet<long> { 1, 3 }));
        Assert.Equal((3L, 0L, false), BenchRunner.CompareLedger(acknowledged, new HashSet<long>(), new HashSet<long>()));
    }
}
