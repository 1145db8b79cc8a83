using System.Net;
using System.Text.Json.Nodes;

namespace CityOS.Server.Tests.NgsiLd;

/// <summary>The temporal API over real HTTP: history kept by entity writes, windows, lastN, aggregation, provision.</summary>
public abstract class TemporalTests(CityOSServer server)
{
    private readonly HttpClient _client = server.Client;
    private readonly string _tenant = "t" + Guid.NewGuid().ToString("N")[..12];

    private static JsonObject Reading(double value, string observedAt) =>
        new() { ["type"] = "Property", ["value"] = value, ["observedAt"] = observedAt };

    private async Task<string> CreateSensorAsync(double value = 20, string observedAt = "2026-01-01T00:00:00Z")
    {
        var id = Http.NewId("Sensor");
        var entity = new JsonObject { ["id"] = id, ["type"] = "Sensor", ["temperature"] = Reading(value, observedAt) };
        using var response = await _client.NgPostAsync("entities", entity.ToJsonString(), _tenant);
        await response.ExpectAsync(HttpStatusCode.Created);
        return id;
    }

    private async Task UpdateAsync(string id, double value, string observedAt)
    {
        var fragment = new JsonObject { ["temperature"] = Reading(value, observedAt) };
        using var response = await _client.NgPatchAsync($"entities/{id}/attrs", fragment.ToJsonString(), _tenant);
        await response.ExpectAsync(HttpStatusCode.NoContent);
    }

    private async Task<JsonNode> GetAsync(string path, HttpStatusCode status = HttpStatusCode.OK)
    {
        using var response = await _client.NgGetAsync(path, _tenant);
        await response.ExpectAsync(status);
        return await response.JsonAsync();
    }

    // An attribute's instances whether rendered as one object or an array.
    private static List<JsonObject> InstancesOf(JsonNode entity, string attribute) => entity[attribute] switch
    {
        JsonArray array => array.Select(n => n!.AsObject()).ToList(),
        JsonObject single => [single],
        _ => [],
    };

    private static double[] Values(JsonNode entity, string attribute = "temperature") =>
        InstancesOf(entity, attribute).Select(i => (double)i["value"]!).ToArray();

    /// <summary>A sensor with readings 1..6 observed hourly from 2026-03-01T00:00Z.</summary>
    private async Task<string> HourlySensorAsync()
    {
        var id = await CreateSensorAsync(1, "2026-03-01T00:00:00Z");
        for (var h = 1; h < 6; h++)
        {
            await UpdateAsync(id, h + 1, $"2026-03-01T{h:D2}:00:00Z");
        }

        return id;
    }

    [Fact]
    public async Task Every_update_keeps_an_instance_with_its_own_instanceId()
    {
        var id = await CreateSensorAsync(20, "2026-01-01T00:00:00Z");
        await UpdateAsync(id, 21, "2026-01-01T01:00:00Z");
        await UpdateAsync(id, 22, "2026-01-01T02:00:00Z");

        var history = await GetAsync($"temporal/entities/{id}");
        Assert.Equal(id, (string?)history["id"]);
        Assert.Equal("Sensor", (string?)history["type"]);
        Assert.Equal(new[] { 20.0, 21, 22 }, Values(history));
        var instances = InstancesOf(history, "temperature");
        Assert.Equal(3, instances.Select(i => (string?)i["instanceId"]).Distinct().Count());
        Assert.All(instances, i => Assert.StartsWith("urn:ngsi-ld:Instance:", (string?)i["instanceId"], StringComparison.Ordinal));
        Assert.Equal("2026-01-01T01:00:00.000000Z", (string?)instances[1]["observedAt"]);
        Assert.Null(instances[0]["createdAt"]);

        var withSysAttrs = await GetAsync($"temporal/entities/{id}?options=sysAttrs");
        Assert.All(InstancesOf(withSysAttrs, "temperature"), i => Assert.NotNull(i["modifiedAt"]));
    }

    [Fact]
    public async Task An_untouched_attribute_gets_no_new_instance()
    {
        var id = Http.NewId("Sensor");
        var entity = new JsonObject { ["id"] = id, ["type"] = "Sensor", ["temperature"] = Reading(1, "2026-01-01T00:00:00Z"), ["humidity"] = Reading(50, "2026-01-01T00:00:00Z") };
        await (await _client.NgPostAsync("entities", entity.ToJsonString(), _tenant)).ExpectAsync(HttpStatusCode.Created);
        await UpdateAsync(id, 2, "2026-01-01T01:00:00Z");

        var history = await GetAsync($"temporal/entities/{id}");
        Assert.Equal(new[] { 1.0, 2 }, Values(history));
        Assert.Equal(new[] { 50.0 }, Values(history, "humidity"));
    }

    [Fact]
    public async Task Timerel_windows_are_before_exclusive_after_inclusive_between_half_open()
    {
        var id = await HourlySensorAsync();
        Assert.Equal(new[] { 1.0, 2 }, Values(await GetAsync($"temporal/entities/{id}?timerel=before&timeAt=2026-03-01T02:00:00Z")));
        Assert.Equal(new[] { 5.0, 6 }, Values(await GetAsync($"temporal/entities/{id}?timerel=after&timeAt=2026-03-01T04:00:00Z")));
        Assert.Equal(new[] { 2.0, 3 }, Values(await GetAsync($"temporal/entities/{id}?timerel=between&timeAt=2026-03-01T01:00:00Z&endTimeAt=2026-03-01T03:00:00Z")));
    }

    [Fact]
    public async Task LastN_returns_the_newest_instances_oldest_first()
    {
        var id = await HourlySensorAsync();
        Assert.Equal(new[] { 4.0, 5, 6 }, Values(await GetAsync($"temporal/entities/{id}?lastN=3")));
        Assert.Equal(new[] { 2.0, 3 }, Values(await GetAsync($"temporal/entities/{id}?lastN=2&timerel=before&timeAt=2026-03-01T03:00:00Z")));
    }

    [Fact]
    public async Task TemporalValues_pairs_each_value_with_its_time()
    {
        var id = await HourlySensorAsync();
        var history = await GetAsync($"temporal/entities/{id}?options=temporalValues&lastN=2");
        var attribute = history["temperature"]!;
        Assert.Equal("Property", (string?)attribute["type"]);
        var values = attribute["values"]!.AsArray();
        Assert.Equal(2, values.Count);
        Assert.Equal(5.0, (double)values[0]![0]!);
        Assert.Equal("2026-03-01T04:00:00.000000Z", (string?)values[0]![1]);
    }

    [Fact]
    public async Task Aggregation_by_period_gives_known_results()
    {
        var id = await HourlySensorAsync();
        var history = await GetAsync(
            $"temporal/entities/{id}?options=aggregatedValues&aggrMethods=totalCount,sum,avg,min,max,sumsq,stddev,distinctCount&aggrPeriodDuration=PT2H&timerel=between&timeAt=2026-03-01T00:00:00Z&endTimeAt=2026-03-01T06:00:00Z");
        var attribute = history["temperature"]!;
        double[] Results(string method) => attribute[method]!.AsArray().Select(r => (double)r![0]!).ToArray();
        Assert.Equal(new[] { 2.0, 2, 2 }, Results("totalCount"));
        Assert.Equal(new[] { 3.0, 7, 11 }, Results("sum"));
        Assert.Equal(new[] { 1.5, 3.5, 5.5 }, Results("avg"));
        Assert.Equal(new[] { 1.0, 3, 5 }, Results("min"));
        Assert.Equal(new[] { 2.0, 4, 6 }, Results("max"));
        Assert.Equal(new[] { 5.0, 25, 61 }, Results("sumsq"));
        Assert.Equal(new[] { 2.0, 2, 2 }, Results("distinctCount"));
        Assert.All(Results("stddev"), s => Assert.Equal(Math.Sqrt(0.5), s, 9));
        var first = attribute["avg"]![0]!.AsArray();
        Assert.Equal("2026-03-01T00:00:00.000000Z", (string?)first[1]);
        Assert.Equal("2026-03-01T02:00:00.000000Z", (string?)first[2]);
    }

    [Fact]
    public async Task Aggregation_without_period_covers_the_whole_window()
    {
        var id = await HourlySensorAsync();
        var history = await GetAsync($"temporal/entities/{id}?options=aggregatedValues&aggrMethods=avg,totalCount&timerel=after&timeAt=2026-03-01T01:00:00Z");
        var avg = history["temperature"]!["avg"]!.AsArray();
        Assert.Single(avg);
        Assert.Equal(4.0, (double)avg[0]![0]!);
        Assert.Equal(5.0, (double)history["temperature"]!["totalCount"]![0]![0]!);
    }

    [Fact]
    public async Task Deleting_an_attribute_or_the_entity_records_deletedAt_and_keeps_the_history()
    {
        var id = await CreateSensorAsync(20, "2026-01-01T00:00:00Z");
        await (await _client.NgDeleteAsync($"entities/{id}/attrs/temperature", _tenant)).ExpectAsync(HttpStatusCode.NoContent);
        var deletions = await GetAsync($"temporal/entities/{id}?timeproperty=deletedAt");
        var deleted = Assert.Single(InstancesOf(deletions, "temperature"));
        Assert.Equal("urn:ngsi-ld:null", (string?)deleted["value"]);
        Assert.NotNull(deleted["deletedAt"]);

        await (await _client.NgDeleteAsync($"entities/{id}", _tenant)).ExpectAsync(HttpStatusCode.NoContent);
        var afterDeletion = await GetAsync($"temporal/entities/{id}");
        Assert.Equal("Sensor", (string?)afterDeletion["type"]);
        Assert.Equal(new[] { 20.0 }, Values(afterDeletion));
    }

    [Fact]
    public async Task Provision_creates_a_new_entity_from_its_latest_instances_then_appends()
    {
        var id = Http.NewId("Sensor");
        var body = new JsonObject
        {
            ["id"] = id,
            ["type"] = "Sensor",
            ["temperature"] = new JsonArray(Reading(1, "2026-04-01T00:00:00Z"), Reading(3, "2026-04-01T02:00:00Z"), Reading(2, "2026-04-01T01:00:00Z")),
            ["humidity"] = new JsonObject { ["type"] = "Property", ["values"] = new JsonArray(new JsonArray(40, "2026-04-01T00:00:00Z"), new JsonArray(45, "2026-04-01T01:00:00Z")) },
        };
        using (var created = await _client.NgPostAsync("temporal/entities", body.ToJsonString(), _tenant))
        {
            await created.ExpectAsync(HttpStatusCode.Created);
            Assert.Equal($"/ngsi-ld/v1/temporal/entities/{id}", created.Headers.Location?.OriginalString);
        }

        var current = await GetAsync($"entities/{id}");
        Assert.Equal(3.0, (double)current["temperature"]!["value"]!);
        Assert.Equal(45.0, (double)current["humidity"]!["value"]!);
        Assert.Equal(new[] { 1.0, 2, 3 }, Values(await GetAsync($"temporal/entities/{id}")));

        var more = new JsonObject { ["id"] = id, ["type"] = "Sensor", ["temperature"] = Reading(4, "2026-04-01T03:00:00Z") };
        await (await _client.NgPostAsync("temporal/entities", more.ToJsonString(), _tenant)).ExpectAsync(HttpStatusCode.NoContent);
        var append = new JsonObject { ["temperature"] = new JsonArray(Reading(0, "2026-03-31T23:00:00Z")) };
        await (await _client.NgPostAsync($"temporal/entities/{id}/attrs", append.ToJsonString(), _tenant)).ExpectAsync(HttpStatusCode.NoContent);

        Assert.Equal(new[] { 0.0, 1, 2, 3, 4 }, Values(await GetAsync($"temporal/entities/{id}")));
        // Back-filling leaves the current state alone.
        Assert.Equal(3.0, (double)(await GetAsync($"entities/{id}"))["temperature"]!["value"]!);
        Assert.Equal(new[] { 40.0, 45 }, Values(await GetAsync($"temporal/entities/{id}?attrs=humidity"), "humidity"));
    }

    [Fact]
    public async Task An_instance_can_be_modified_and_deleted_by_its_instanceId()
    {
        var id = await HourlySensorAsync();
        var instances = InstancesOf(await GetAsync($"temporal/entities/{id}"), "temperature");
        var second = (string)instances[1]["instanceId"]!;
        var third = (string)instances[2]["instanceId"]!;

        await (await _client.NgPatchAsync($"temporal/entities/{id}/attrs/temperature/{second}", """{"value": 200}""", _tenant)).ExpectAsync(HttpStatusCode.NoContent);
        await (await _client.NgDeleteAsync($"temporal/entities/{id}/attrs/temperature/{third}", _tenant)).ExpectAsync(HttpStatusCode.NoContent);

        var after = InstancesOf(await GetAsync($"temporal/entities/{id}"), "temperature");
        Assert.Equal(new[] { 1.0, 200, 4, 5, 6 }, after.Select(i => (double)i["value"]!).ToArray());
        Assert.Equal("2026-03-01T01:00:00.000000Z", (string?)after[1]["observedAt"]);
        await (await _client.NgDeleteAsync($"temporal/entities/{id}/attrs/temperature/{third}", _tenant)).ExpectAsync(HttpStatusCode.NotFound, "ResourceNotFound");
        await (await _client.NgPatchAsync($"temporal/entities/{id}/attrs/temperature/urn:ngsi-ld:Instance:999999999", """{"value": 1}""", _tenant)).ExpectAsync(HttpStatusCode.NotFound, "ResourceNotFound");
    }

    [Fact]
    public async Task Deleting_an_attributes_history_and_the_entity_history()
    {
        var id = await HourlySensorAsync();
        await (await _client.NgDeleteAsync($"temporal/entities/{id}/attrs/temperature", _tenant)).ExpectAsync(HttpStatusCode.NoContent);
        Assert.Empty(Values(await GetAsync($"temporal/entities/{id}")));
        await (await _client.NgDeleteAsync($"temporal/entities/{id}/attrs/temperature", _tenant)).ExpectAsync(HttpStatusCode.NotFound, "ResourceNotFound");

        var other = await CreateSensorAsync();
        await (await _client.NgDeleteAsync($"entities/{other}", _tenant)).ExpectAsync(HttpStatusCode.NoContent);
        await (await _client.NgDeleteAsync($"temporal/entities/{other}", _tenant)).ExpectAsync(HttpStatusCode.NoContent);
        await GetAsync($"temporal/entities/{other}", HttpStatusCode.NotFound);
        await (await _client.NgDeleteAsync($"temporal/entities/{other}", _tenant)).ExpectAsync(HttpStatusCode.NotFound, "ResourceNotFound");
    }

    [Fact]
    public async Task Query_filters_current_entities_then_returns_their_history()
    {
        var cold = await CreateSensorAsync(5, "2026-05-01T00:00:00Z");
        await UpdateAsync(cold, 6, "2026-05-01T01:00:00Z");
        var hot = await CreateSensorAsync(30, "2026-05-01T00:00:00Z");

        var result = await GetAsync("temporal/entities?type=Sensor&q=temperature>20&timerel=after&timeAt=2026-05-01T00:00:00Z");
        var entity = Assert.Single(result.AsArray());
        Assert.Equal(hot, (string?)entity!["id"]);

        var all = await GetAsync("temporal/entities?type=Sensor&timerel=after&timeAt=2026-05-01T00:00:00Z&limit=100");
        var coldHistory = all.AsArray().Single(e => (string?)e!["id"] == cold)!;
        Assert.Equal(new[] { 5.0, 6 }, Values(coldHistory));

        var posted = new JsonObject
        {
            ["type"] = "Query",
            ["entities"] = new JsonArray(new JsonObject { ["type"] = "Sensor" }),
            ["q"] = "temperature<10",
            ["temporalQ"] = new JsonObject { ["timerel"] = "after", ["timeAt"] = "2026-05-01T00:30:00Z" },
        };
        using var response = await _client.NgPostAsync("temporal/entityOperations/query", posted.ToJsonString(), _tenant);
        await response.ExpectAsync(HttpStatusCode.OK);
        var match = Assert.Single((await response.JsonAsync()).AsArray());
        Assert.Equal(new[] { 6.0 }, Values(match!));
    }

    [Theory]
    [InlineData("temporal/entities?type=Sensor")]
    [InlineData("temporal/entities?type=Sensor&timerel=during&timeAt=2026-01-01T00:00:00Z")]
    [InlineData("temporal/entities?type=Sensor&timerel=after")]
    [InlineData("temporal/entities?type=Sensor&timerel=after&timeAt=yesterday")]
    [InlineData("temporal/entities?type=Sensor&timerel=between&timeAt=2026-01-01T00:00:00Z")]
    [InlineData("temporal/entities?type=Sensor&timerel=between&timeAt=2026-01-02T00:00:00Z&endTimeAt=2026-01-01T00:00:00Z")]
    [InlineData("temporal/entities?type=Sensor&timerel=after&timeAt=2026-01-01T00:00:00Z&timeproperty=seenAt")]
    [InlineData("temporal/entities?type=Sensor&timerel=after&timeAt=2026-01-01T00:00:00Z&lastN=0")]
    [InlineData("temporal/entities?type=Sensor&timerel=after&timeAt=2026-01-01T00:00:00Z&options=aggregatedValues")]
    [InlineData("temporal/entities?type=Sensor&timerel=after&timeAt=2026-01-01T00:00:00Z&options=aggregatedValues&aggrMethods=median")]
    [InlineData("temporal/entities?type=Sensor&timerel=after&timeAt=2026-01-01T00:00:00Z&options=aggregatedValues&aggrMethods=avg&aggrPeriodDuration=1h")]
    [InlineData("temporal/entities?type=Sensor&timerel=after&timeAt=2026-01-01T00:00:00Z&aggrMethods=avg")]
    [InlineData("temporal/entities?type=Sensor&timerel=after&timeAt=2026-01-01T00:00:00Z&unknown=1")]
    [InlineData("temporal/entities/urn:ngsi-ld:Sensor:x?timeAt=2026-01-01T00:00:00Z")]
    public async Task Bad_temporal_parameters_are_400_BadRequestData(string path)
    {
        await CreateSensorAsync();
        using var response = await _client.NgGetAsync(path, _tenant);
        await response.ExpectAsync(HttpStatusCode.BadRequest, "BadRequestData");
    }

    [Fact]
    public async Task Unknown_entity_is_404_and_unknown_tenant_is_NonexistentTenant()
    {
        await CreateSensorAsync();
        await GetAsync($"temporal/entities/{Http.NewId("Sensor")}", HttpStatusCode.NotFound);
        using var response = await _client.NgGetAsync("temporal/entities/urn:ngsi-ld:Sensor:1", "nosuchtenant" + Guid.NewGuid().ToString("N")[..8]);
        await response.ExpectAsync(HttpStatusCode.NotFound, "NonexistentTenant");
    }

    [Fact]
    public async Task Instances_of_each_datasetId_stay_apart()
    {
        var id = Http.NewId("Sensor");
        var entity = new JsonObject
        {
            ["id"] = id,
            ["type"] = "Sensor",
            ["temperature"] = new JsonArray(
                new JsonObject { ["type"] = "Property", ["value"] = 1, ["observedAt"] = "2026-06-01T00:00:00Z", ["datasetId"] = "urn:ngsi-ld:dataset:a" },
                new JsonObject { ["type"] = "Property", ["value"] = 10, ["observedAt"] = "2026-06-01T00:00:00Z", ["datasetId"] = "urn:ngsi-ld:dataset:b" }),
        };
        await (await _client.NgPostAsync("entities", entity.ToJsonString(), _tenant)).ExpectAsync(HttpStatusCode.Created);
        var only = await GetAsync($"temporal/entities/{id}?datasetId=urn:ngsi-ld:dataset:b");
        Assert.Equal(new[] { 10.0 }, Values(only));

        var aggregated = await GetAsync($"temporal/entities/{id}?options=aggregatedValues&aggrMethods=max");
        var groups = aggregated["temperature"]!.AsArray();
        Assert.Equal(2, groups.Count);
        Assert.Equal(new[] { "urn:ngsi-ld:dataset:a", "urn:ngsi-ld:dataset:b" }, groups.Select(g => (string)g!["datasetId"]!).ToArray());
    }
}

[Collection(SharedSqliteServer.Name)]
public sealed class TemporalTestsOnSqlite(SqliteServer server) : TemporalTests(server);

[Collection(SharedPostgresServer.Name)]
public sealed class TemporalTestsOnPostgres(PostgresServer server) : TemporalTests(server);

/// <summary>Paging of long histories (§6.3.10): a server whose per-attribute limit is 3 instances.</summary>
public abstract class TemporalPagingTests(CityOSServer server)
{
    private readonly HttpClient _client = server.Client;

    private async Task<string> SensorWithReadingsAsync(int count)
    {
        var id = Http.NewId("Sensor");
        var readings = new JsonArray();
        for (var i = 0; i < count; i++)
        {
            readings.Add(new JsonArray(i, $"2026-07-01T{i:D2}:00:00Z"));
        }

        var body = new JsonObject { ["id"] = id, ["type"] = "Sensor", ["temperature"] = new JsonObject { ["type"] = "Property", ["values"] = readings } };
        await (await _client.NgPostAsync("temporal/entities", body.ToJsonString())).ExpectAsync(HttpStatusCode.Created);
        return id;
    }

    private static double[] Values(JsonNode entity) => entity["temperature"] switch
    {
        JsonArray array => array.Select(i => (double)i!["value"]!).ToArray(),
        JsonObject single => [(double)single["value"]!],
        _ => [],
    };

    [Fact]
    public async Task A_long_history_is_cut_with_206_and_a_Content_Range_the_client_can_continue_from()
    {
        var id = await SensorWithReadingsAsync(7);
        using var first = await _client.NgGetAsync($"temporal/entities/{id}?timerel=after&timeAt=2026-07-01T00:00:00Z");
        await first.ExpectAsync(HttpStatusCode.PartialContent);
        Assert.Equal(new[] { 0.0, 1, 2 }, Values(await first.JsonAsync()));
        var range = first.Content.Headers.GetValues("Content-Range").Single();
        Assert.Equal("date-time 2026-07-01T00:00:00.000000Z-2026-07-01T03:00:00.000000Z/*", range);

        using var second = await _client.NgGetAsync($"temporal/entities/{id}?timerel=after&timeAt=2026-07-01T03:00:00Z");
        await second.ExpectAsync(HttpStatusCode.PartialContent);
        Assert.Equal(new[] { 3.0, 4, 5 }, Values(await second.JsonAsync()));

        using var last = await _client.NgGetAsync($"temporal/entities/{id}?timerel=after&timeAt=2026-07-01T06:00:00Z");
        await last.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(new[] { 6.0 }, Values(await last.JsonAsync()));
    }

    [Fact]
    public async Task LastN_above_the_limit_pages_backwards_with_lastN_as_the_size()
    {
        var id = await SensorWithReadingsAsync(7);
        using var response = await _client.NgGetAsync($"temporal/entities/{id}?lastN=5");
        await response.ExpectAsync(HttpStatusCode.PartialContent);
        Assert.Equal(new[] { 4.0, 5, 6 }, Values(await response.JsonAsync()));
        var range = response.Content.Headers.GetValues("Content-Range").Single();
        Assert.StartsWith("date-time 2026-07-01T04:00:00.000000Z-", range, StringComparison.Ordinal);
        Assert.EndsWith("/5", range, StringComparison.Ordinal);

        using var within = await _client.NgGetAsync($"temporal/entities/{id}?lastN=2");
        await within.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(new[] { 5.0, 6 }, Values(await within.JsonAsync()));
    }
}

/// <summary>A SQLite server with a per-attribute limit of 3 instances.</summary>
public sealed class SmallPageSqliteServer : CityOSServer
{
    public SmallPageSqliteServer()
        : base(TestStore.Sqlite) => Settings["CityOS:Temporal:MaxInstancesPerAttribute"] = "3";
}

/// <summary>A PostgreSQL server with a per-attribute limit of 3 instances.</summary>
public sealed class SmallPagePostgresServer : CityOSServer
{
    public SmallPagePostgresServer()
        : base(TestStore.Postgres) => Settings["CityOS:Temporal:MaxInstancesPerAttribute"] = "3";
}

public sealed class TemporalPagingTestsOnSqlite(SmallPageSqliteServer server) : TemporalPagingTests(server), IClassFixture<SmallPageSqliteServer>;

public sealed class TemporalPagingTestsOnPostgres(SmallPagePostgresServer server) : TemporalPagingTests(server), IClassFixture<SmallPagePostgresServer>;
