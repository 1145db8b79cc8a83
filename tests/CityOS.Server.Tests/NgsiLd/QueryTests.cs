using System.Net;
using System.Text.Json.Nodes;

namespace CityOS.Server.Tests.NgsiLd;

/// <summary>Query Entities (GET and POST) over a small seeded data set in its own tenant.</summary>
public abstract class QueryTests(CityOSServer server) : IAsyncLifetime
{
    private readonly HttpClient _client = server.Client;
    private readonly string _tenant = "q" + Guid.NewGuid().ToString("N")[..12];

    public async Task InitializeAsync()
    {
        var entities = new JsonArray();
        // Ten sensors along a line in Thủ Dầu Một, temperatures 15..24, every other one in a scope.
        for (var i = 0; i < 10; i++)
        {
            entities.Add(new JsonObject
            {
                ["id"] = $"urn:ngsi-ld:Sensor:{i:D3}",
                ["type"] = "Sensor",
                ["scope"] = i % 2 == 0 ? "/BinhDuong/ThuDauMot" : "/BinhDuong/DiAn",
                ["temperature"] = new JsonObject { ["type"] = "Property", ["value"] = 15 + i, ["observedAt"] = $"2026-11-{10 + i}T00:00:00Z" },
                ["status"] = new JsonObject { ["type"] = "Property", ["value"] = i < 5 ? "ok" : "alarm" },
                ["address"] = new JsonObject { ["type"] = "Property", ["value"] = new JsonObject { ["city"] = i < 3 ? "Thu Dau Mot" : "Di An" } },
                ["location"] = new JsonObject
                {
                    ["type"] = "GeoProperty",
                    ["value"] = new JsonObject { ["type"] = "Point", ["coordinates"] = new JsonArray(106.65 + (i * 0.01), 10.98) },
                },
            });
        }

        entities.Add(new JsonObject { ["id"] = "urn:ngsi-ld:Camera:1", ["type"] = "Camera", ["status"] = new JsonObject { ["type"] = "Property", ["value"] = "ok" } });
        using var response = await _client.NgPostAsync("entityOperations/create", entities.ToJsonString(), _tenant);
        await response.ExpectAsync(HttpStatusCode.Created);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    private async Task<List<string>> IdsAsync(string query)
    {
        using var response = await _client.NgGetAsync("entities?" + query, _tenant);
        await response.ExpectAsync(HttpStatusCode.OK);
        return (await response.JsonAsync()).AsArray().Select(e => (string)e!["id"]!).ToList();
    }

    [Fact]
    public async Task Query_by_type_returns_only_that_type_in_creation_order()
    {
        var ids = await IdsAsync("type=Sensor&limit=100");
        Assert.Equal(10, ids.Count);
        Assert.Equal("urn:ngsi-ld:Sensor:000", ids[0]);
        Assert.Equal(["urn:ngsi-ld:Camera:1"], await IdsAsync("type=Camera"));
        Assert.Equal(11, (await IdsAsync("type=Sensor,Camera&limit=100")).Count);
    }

    [Theory]
    [InlineData("temperature>20", 4)]
    [InlineData("temperature>=20;temperature<=22", 3)]
    [InlineData("temperature==15..17", 3)]
    [InlineData("temperature==15,16,30", 2)]
    [InlineData("temperature!=15", 9)]
    [InlineData("status==\"alarm\"", 5)]
    [InlineData("status==\"ok\"|temperature>23", 6)]
    [InlineData("(status==\"ok\"|temperature>23);temperature<16", 1)]
    [InlineData("status~=\"^al\"", 5)]
    [InlineData("address[city]==\"Thu Dau Mot\"", 3)]
    [InlineData("temperature.observedAt>=2026-11-15T00:00:00Z", 5)]
    [InlineData("temperature", 10)]
    public async Task Q_filters(string q, int expected)
    {
        var ids = await IdsAsync("type=Sensor&limit=100&q=" + Uri.EscapeDataString(q));
        Assert.Equal(expected, ids.Count);
    }

    [Fact]
    public async Task Malformed_q_is_400_BadRequestData()
    {
        using var response = await _client.NgGetAsync("entities?type=Sensor&q=" + Uri.EscapeDataString("temperature>>"), _tenant);
        await response.ExpectAsync(HttpStatusCode.BadRequest, "BadRequestData");
    }

    [Fact]
    public async Task Id_idPattern_and_attrs()
    {
        Assert.Equal(2, (await IdsAsync("id=urn:ngsi-ld:Sensor:001,urn:ngsi-ld:Sensor:002")).Count);
        Assert.Equal(10, (await IdsAsync("idPattern=" + Uri.EscapeDataString("^urn:ngsi-ld:Sensor:.*") + "&limit=100")).Count);
        var withAttrs = await (await _client.NgGetAsync("entities?type=Sensor&attrs=status&limit=1", _tenant)).JsonAsync();
        var first = withAttrs[0]!.AsObject();
        Assert.True(first.ContainsKey("status"));
        Assert.False(first.ContainsKey("temperature"));
    }

    [Fact]
    public async Task ScopeQ_selects_by_hierarchy()
    {
        Assert.Equal(5, (await IdsAsync("scopeQ=/BinhDuong/ThuDauMot")).Count);
        Assert.Equal(10, (await IdsAsync("scopeQ=/BinhDuong/%23&limit=100")).Count);
    }

    [Fact]
    public async Task Near_geo_query_uses_metres()
    {
        // Points are ~1.09 km apart along the parallel at 10.98°N.
        var ids = await IdsAsync("type=Sensor&georel=" + Uri.EscapeDataString("near;maxDistance==1500") + "&geometry=Point&coordinates=" + Uri.EscapeDataString("[106.65,10.98]"));
        Assert.Equal(["urn:ngsi-ld:Sensor:000", "urn:ngsi-ld:Sensor:001"], ids);
    }

    [Fact]
    public async Task Within_polygon()
    {
        var polygon = "[[[106.645,10.97],[106.675,10.97],[106.675,10.99],[106.645,10.99],[106.645,10.97]]]";
        var ids = await IdsAsync("type=Sensor&georel=within&geometry=Polygon&coordinates=" + Uri.EscapeDataString(polygon));
        Assert.Equal(3, ids.Count);
    }

    [Fact]
    public async Task Malformed_georel_is_400()
    {
        using var response = await _client.NgGetAsync("entities?type=Sensor&georel=" + Uri.EscapeDataString("near;maxDistance=10") + "&geometry=Point&coordinates=[1,2]", _tenant);
        await response.ExpectAsync(HttpStatusCode.BadRequest, "BadRequestData");
    }

    [Fact]
    public async Task Paging_count_and_limits()
    {
        using var response = await _client.NgGetAsync("entities?type=Sensor&limit=3&offset=3&count=true", _tenant);
        await response.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("10", response.Headers.GetValues("NGSILD-Results-Count").Single());
        var ids = (await response.JsonAsync()).AsArray().Select(e => (string)e!["id"]!).ToList();
        Assert.Equal(["urn:ngsi-ld:Sensor:003", "urn:ngsi-ld:Sensor:004", "urn:ngsi-ld:Sensor:005"], ids);
        Assert.Contains(response.Headers.GetValues("Link"), l => l.Contains("rel=\"next\"", StringComparison.Ordinal));

        using var countOnly = await _client.NgGetAsync("entities?type=Sensor&limit=0&count=true", _tenant);
        Assert.Equal("10", countOnly.Headers.GetValues("NGSILD-Results-Count").Single());
        Assert.Empty((await countOnly.JsonAsync()).AsArray());

        await (await _client.NgGetAsync("entities?type=Sensor&limit=0", _tenant)).ExpectAsync(HttpStatusCode.BadRequest, "BadRequestData");
        await (await _client.NgGetAsync("entities?type=Sensor&limit=100000", _tenant)).ExpectAsync(HttpStatusCode.Forbidden, "TooManyResults");
        await (await _client.NgGetAsync("entities?type=Sensor&limit=abc", _tenant)).ExpectAsync(HttpStatusCode.BadRequest, "BadRequestData");
    }

    [Fact]
    public async Task Query_without_any_filter_is_400()
    {
        await (await _client.NgGetAsync("entities", _tenant)).ExpectAsync(HttpStatusCode.BadRequest, "BadRequestData");
    }

    [Fact]
    public async Task Post_query_matches_get_query()
    {
        var body = """{"type": "Query", "entities": [{"type": "Sensor"}], "q": "temperature>20", "attrs": ["temperature"]}""";
        using var response = await _client.NgPostAsync("entityOperations/query?limit=100&count=true", body, _tenant);
        await response.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("4", response.Headers.GetValues("NGSILD-Results-Count").Single());
        var first = (await response.JsonAsync())[0]!.AsObject();
        Assert.True(first.ContainsKey("temperature"));
        Assert.False(first.ContainsKey("status"));
    }

    [Fact]
    public async Task GeoJson_query_returns_feature_collection()
    {
        using var response = await _client.NgGetAsync("entities?type=Sensor&limit=2", _tenant, accept: "application/geo+json");
        await response.ExpectAsync(HttpStatusCode.OK);
        var collection = await response.JsonAsync();
        Assert.Equal("FeatureCollection", (string?)collection["type"]);
        Assert.Equal(2, collection["features"]!.AsArray().Count);
    }

    [Fact]
    public async Task Discovery_lists_types_and_attributes()
    {
        var types = await (await _client.NgGetAsync("types", _tenant)).JsonAsync();
        Assert.Equal("EntityTypeList", (string?)types["type"]);
        Assert.Equal(["Camera", "Sensor"], types["typeList"]!.AsArray().Select(n => (string?)n).Order(StringComparer.Ordinal).ToList());

        var info = await (await _client.NgGetAsync("types/Sensor", _tenant)).JsonAsync();
        Assert.Equal("EntityTypeInfo", (string?)info["type"]);
        Assert.Equal(10, (int)info["entityCount"]!);
        Assert.Contains(info["attributeDetails"]!.AsArray(), a => (string?)a!["attributeName"] == "temperature");

        var attributes = await (await _client.NgGetAsync("attributes", _tenant)).JsonAsync();
        Assert.Contains("status", attributes["attributeList"]!.AsArray().Select(n => (string?)n));

        var status = await (await _client.NgGetAsync("attributes/status", _tenant)).JsonAsync();
        Assert.Equal(11, (int)status["attributeCount"]!);
        Assert.Equal(2, status["typeNames"]!.AsArray().Count);

        var detailed = await (await _client.NgGetAsync("types?details=true", _tenant)).JsonAsync();
        Assert.Equal(2, detailed.AsArray().Count);
        await (await _client.NgGetAsync("types/Nothing", _tenant)).ExpectAsync(HttpStatusCode.NotFound, "ResourceNotFound");
    }
}

[Collection(SharedSqliteServer.Name)]
public sealed class QueryTestsOnSqlite(SqliteServer server) : QueryTests(server);

[Collection(SharedPostgresServer.Name)]
public sealed class QueryTestsOnPostgres(PostgresServer server) : QueryTests(server);
