using System.Net;
using System.Text.Json.Nodes;
using CityOS.Server.Hosting;

namespace CityOS.Server.Tests;

public sealed class SystemEndpointsTests : IClassFixture<CityOSServer>
{
    private readonly CityOSServer _server;

    public SystemEndpointsTests(CityOSServer server) => _server = server;

    [Fact]
    public async Task Health_reports_liveness_and_storage()
    {
        using var response = await _server.Client.GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("ok", (string?)body["status"]);
        Assert.Equal("ok", (string?)body["storage"]);
        Assert.Equal("in-process", (string?)body["cluster"]!["transport"]);
        Assert.Equal("connected", (string?)body["cluster"]!["state"]);
        Assert.Equal(0, (int)body["cluster"]!["reconnects"]!);
        var notifications = body["notifications"]!;
        Assert.Equal(0, (long?)notifications["droppedChanges"]);
        Assert.NotNull(notifications["queuedNotifications"]);
    }

    [Fact]
    public async Task Version_names_product_and_ngsi_ld_version()
    {
        var body = JsonNode.Parse(await _server.Client.GetStringAsync("/version"))!;
        Assert.Equal("CityOS", (string?)body["product"]);
        Assert.StartsWith("1.", (string?)body["ngsiLdVersion"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task OpenApi_document_lists_served_paths()
    {
        var body = JsonNode.Parse(await _server.Client.GetStringAsync("/openapi/v1.json"))!;
        var paths = body["paths"]!.AsObject();
        Assert.True(paths.ContainsKey("/health"));
        Assert.True(paths.ContainsKey("/version"));
    }

    [Fact]
    public async Task Invalid_setting_stops_start_up_naming_the_setting()
    {
        var settings = new Dictionary<string, string?>
        {
            ["CityOS:Urls"] = "http://127.0.0.1:0",
            ["CityOS:Broker:MaxPageSize"] = "0",
        };
        await using var app = ServerHost.Build(settings);
        var error = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => app.StartAsync());
        Assert.Contains("MaxPageSize", error.Message, StringComparison.Ordinal);
    }
}

public sealed class SettingsTests
{
    [Theory]
    [InlineData("CityOS:Urls", "nonsense", "CityOS:Urls")]
    [InlineData("CityOS:Urls", "ftp://localhost:21", "CityOS:Urls")]
    [InlineData("CityOS:PublicUrl", "not a url", "CityOS:PublicUrl")]
    public void Invalid_address_settings_fail_at_build_naming_the_setting(string key, string value, string expected)
    {
        var settings = new Dictionary<string, string?> { ["CityOS:Urls"] = "http://127.0.0.1:0", [key] = value };
        var error = Assert.Throws<InvalidSettingException>(() => ServerHost.Build(settings));
        Assert.Equal(expected, error.Setting);
    }

    [Fact]
    public async Task Invalid_option_values_are_reported_per_section()
    {
        var settings = new Dictionary<string, string?>
        {
            ["CityOS:Urls"] = "http://127.0.0.1:0",
            ["CityOS:Broker:MaxJsonDepth"] = "1",
        };
        await using var app = ServerHost.Build(settings);
        var error = Assert.Throws<InvalidSettingException>(() => ServerHost.ValidateSettings(app.Services));
        Assert.Equal("CityOS:Broker", error.Setting);
        Assert.Contains("MaxJsonDepth", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_returns_2_and_names_the_setting_when_invalid()
    {
        var settings = new Dictionary<string, string?> { ["CityOS:Urls"] = "http://127.0.0.1:0", ["CityOS:Store"] = "mongodb" };
        var previous = Console.Error;
        using var captured = new StringWriter();
        Console.SetError(captured);
        try
        {
            Assert.Equal(2, await ServerHost.RunAsync(settings, CancellationToken.None));
        }
        finally
        {
            Console.SetError(previous);
        }

        Assert.Contains("invalid setting CityOS", captured.ToString(), StringComparison.Ordinal);
        Assert.Contains("Store", captured.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Postgres_store_without_a_connection_string_fails_at_build_naming_the_setting()
    {
        var settings = new Dictionary<string, string?> { ["CityOS:Urls"] = "http://127.0.0.1:0", ["CityOS:Store"] = "postgres" };
        var error = Assert.Throws<InvalidSettingException>(() => ServerHost.Build(settings));
        Assert.Equal("CityOS:ConnectionString", error.Setting);
    }

    [Fact]
    public async Task Run_returns_2_with_one_line_naming_the_database_when_postgres_is_unreachable()
    {
        var settings = new Dictionary<string, string?>
        {
            ["CityOS:Urls"] = "http://127.0.0.1:0",
            ["CityOS:Store"] = "postgres",
            ["CityOS:ConnectionString"] = "Host=127.0.0.1;Port=1;Database=citydb;Username=u;Password=hidden;Timeout=3",
        };
        var previous = Console.Error;
        using var captured = new StringWriter();
        Console.SetError(captured);
        try
        {
            Assert.Equal(2, await ServerHost.RunAsync(settings, CancellationToken.None));
        }
        finally
        {
            Console.SetError(previous);
        }

        var output = captured.ToString();
        Assert.StartsWith("cityos: cannot open the store: ", output, StringComparison.Ordinal);
        Assert.Contains("127.0.0.1:1/citydb", output, StringComparison.Ordinal);
        Assert.DoesNotContain("hidden", output, StringComparison.Ordinal);
        Assert.Single(output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}
