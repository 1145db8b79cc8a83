using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace CityOS.Server.Tests.NgsiLd;

/// <summary>
/// The same sequence of NGSI-LD requests sent to a SQLite-backed and a PostgreSQL-backed server gets the
/// same status, result count and body (system timestamps and broker-generated ids blanked): the two stores
/// are interchangeable behind the API, including result order.
/// </summary>
public sealed partial class StoreEquivalenceTests(SqliteServer sqlite, PostgresServer postgres)
    : IClassFixture<SqliteServer>, IClassFixture<PostgresServer>
{
    private const string Tenant = "equivalence";

    private static readonly HashSet<string> SystemTimestamps = new(StringComparer.Ordinal) { "createdAt", "modifiedAt", "deletedAt" };

    /// <summary>The requests: method, path (relative to the NGSI-LD base) and body.</summary>
    private static IEnumerable<(HttpMethod Method, string Path, string? Body)> Requests()
    {
        // Create: ten sensors on a line, a camera, a building with relationships and a language property.
        for (var i = 0; i < 10; i++)
        {
            var sensor = new JsonObject
            {
                ["id"] = $"urn:ngsi-ld:Sensor:{i:D2}",
                ["type"] = "Sensor",
                ["scope"] = i % 2 == 0 ? "/BinhDuong/ThuDauMot" : "/BinhDuong/DiAn",
                ["temperature"] = new JsonObject { ["type"] = "Property", ["value"] = 15 + i, ["unitCode"] = "CEL", ["observedAt"] = $"2026-11-{10 + i}T00:00:00Z" },
                ["status"] = new JsonObject { ["type"] = "Property", ["value"] = i < 5 ? "ok" : "alarm" },
                ["name"] = new JsonObject { ["type"] = "Property", ["value"] = "sensor " + (char)('a' + i) },
                ["address"] = new JsonObject { ["type"] = "Property", ["value"] = new JsonObject { ["city"] = i < 3 ? "Thu Dau Mot" : "Di An", ["no"] = i } },
                ["building"] = new JsonObject { ["type"] = "Relationship", ["object"] = $"urn:ngsi-ld:Building:{i % 3}" },
                ["location"] = new JsonObject
                {
                    ["type"] = "GeoProperty",
                    ["value"] = new JsonObject { ["type"] = "Point", ["coordinates"] = new JsonArray(Math.Round(106.65 + (i * 0.01), 2), 10.98) },
                },
            };
            yield return (HttpMethod.Post, "entities", sensor.ToJsonString());
        }

        yield return (HttpMethod.Post, "entities", """{"id": "urn:ngsi-ld:Camera:1", "type": "Camera", "status": {"type": "Property", "value": "ok"}}""");
        yield return (HttpMethod.Post, "entities", """
            {"id": "urn:ngsi-ld:Building:0", "type": ["Building", "Landmark"],
             "label": {"type": "LanguageProperty", "languageMap": {"vi": "Tòa nhà", "en": "Building"}},
             "area": {"type": "GeoProperty", "value": {"type": "Polygon", "coordinates": [[[106.64, 10.97], [106.70, 10.97], [106.70, 10.99], [106.64, 10.99], [106.64, 10.97]]]}},
             "floors": [{"type": "Property", "value": 3}, {"type": "Property", "value": 4, "datasetId": "urn:ngsi-ld:Dataset:b"}]}
            """);
        yield return (HttpMethod.Post, "entities", """{"id": "urn:ngsi-ld:Camera:1", "type": "Camera"}""");

        // Retrieve.
        yield return (HttpMethod.Get, "entities/urn:ngsi-ld:Sensor:03", null);
        yield return (HttpMethod.Get, "entities/urn:ngsi-ld:Sensor:03?options=keyValues&attrs=temperature,address", null);
        yield return (HttpMethod.Get, "entities/urn:ngsi-ld:Building:0?options=sysAttrs", null);
        yield return (HttpMethod.Get, "entities/urn:ngsi-ld:Nothing:1", null);

        // Query by type, ids, pattern, attrs and pagination.
        yield return (HttpMethod.Get, "entities?type=Sensor&count=true", null);
        yield return (HttpMethod.Get, "entities?type=Sensor,Camera&limit=4&offset=3&count=true", null);
        yield return (HttpMethod.Get, "entities?type=Landmark", null);
        yield return (HttpMethod.Get, "entities?id=urn:ngsi-ld:Sensor:07,urn:ngsi-ld:Camera:1", null);
        yield return (HttpMethod.Get, "entities?idPattern=urn:ngsi-ld:Sensor:0[2-4]", null);
        yield return (HttpMethod.Get, "entities?attrs=status&options=keyValues", null);
        yield return (HttpMethod.Get, "entities?type=Sensor&pick=id,temperature&limit=3", null);
        yield return (HttpMethod.Get, "entities?type=Sensor&omit=location,address&limit=2", null);
        yield return (HttpMethod.Get, "entities?type=Sensor&limit=0&count=true", null);

        // q.
        foreach (var q in new[]
                 {
                     "temperature>20", "temperature==17", "temperature!=17", "temperature==15..18", "temperature>=18;status==%22ok%22",
                     "temperature<16|status==%22alarm%22", "(temperature<16|temperature>23);status!=%22ok%22", "status==%22ok%22,%22alarm%22",
                     "name~=sensor%20[b-d]", "name!~=sensor%20[b-d]", "address[city]==%22Di%20An%22", "address[no]>6", "building==%22urn:ngsi-ld:Building:1%22",
                     "temperature.unitCode==%22CEL%22", "temperature.observedAt>=2026-11-15T00:00:00Z", "status", "!status", "floors==4",
                 })
        {
            yield return (HttpMethod.Get, "entities?q=" + q + "&count=true&options=keyValues", null);
        }

        yield return (HttpMethod.Get, "entities?type=Sensor&scopeQ=/BinhDuong/ThuDauMot&options=keyValues", null);
        yield return (HttpMethod.Get, "entities?type=Sensor&scopeQ=/BinhDuong/%23&count=true&limit=1", null);

        // Geo.
        foreach (var geo in new[]
                 {
                     "georel=near;maxDistance==2500&geometry=Point&coordinates=[106.65,10.98]",
                     "georel=near;minDistance==3000&geometry=Point&coordinates=[106.65,10.98]",
                     "georel=within&geometry=Polygon&coordinates=[[[106.645,10.97],[106.685,10.97],[106.685,10.99],[106.645,10.99],[106.645,10.97]]]",
                     "georel=intersects&geometry=Polygon&coordinates=[[[106.665,10.97],[106.675,10.97],[106.675,10.99],[106.665,10.99],[106.665,10.97]]]",
                     "georel=disjoint&geometry=Polygon&coordinates=[[[106.665,10.97],[106.675,10.97],[106.675,10.99],[106.665,10.99],[106.665,10.97]]]",
                     "georel=equals&geometry=Point&coordinates=[106.7,10.98]",
                     "georel=contains&geometry=Point&coordinates=[106.66,10.98]&geoproperty=area",
                     "georel=overlaps&geometry=Polygon&coordinates=[[[106.60,10.96],[106.66,10.96],[106.66,10.995],[106.60,10.995],[106.60,10.96]]]&geoproperty=area",
                 })
        {
            yield return (HttpMethod.Get, "entities?" + geo + "&count=true&options=keyValues&attrs=status", null);
        }

        yield return (HttpMethod.Get, "entities?type=Sensor&georel=near;maxDistance==1500&geometry=Point&coordinates=[106.70,10.98]&q=temperature>18&options=keyValues", null);
        yield return (HttpMethod.Post, "entityOperations/query", """
            {"type": "Query", "entities": [{"type": "Sensor"}], "q": "temperature>19", "attrs": ["temperature"],
             "geoQ": {"georel": "near;maxDistance==3000", "geometry": "Point", "coordinates": [106.7, 10.98]}}
            """);

        // Updates.
        yield return (HttpMethod.Patch, "entities/urn:ngsi-ld:Sensor:00/attrs", """{"temperature": {"type": "Property", "value": 30}, "extra": {"type": "Property", "value": true}}""");
        yield return (HttpMethod.Post, "entities/urn:ngsi-ld:Sensor:01/attrs", """{"status": {"type": "Property", "value": "fixed"}, "fresh": 5}""");
        yield return (HttpMethod.Post, "entities/urn:ngsi-ld:Sensor:01/attrs?options=noOverwrite", """{"status": {"type": "Property", "value": "again"}}""");
        yield return (HttpMethod.Patch, "entities/urn:ngsi-ld:Sensor:02/attrs/location", """{"value": {"type": "Point", "coordinates": [106.80, 10.90]}}""");
        yield return (HttpMethod.Delete, "entities/urn:ngsi-ld:Sensor:03/attrs/name", null);
        yield return (HttpMethod.Delete, "entities/urn:ngsi-ld:Sensor:03/attrs/name", null);
        yield return (HttpMethod.Put, "entities/urn:ngsi-ld:Sensor:04", """{"type": "Sensor", "temperature": {"type": "Property", "value": 1}}""");
        yield return (HttpMethod.Delete, "entities/urn:ngsi-ld:Sensor:05", null);
        yield return (HttpMethod.Delete, "entities/urn:ngsi-ld:Sensor:05", null);
        yield return (HttpMethod.Get, "entities?type=Sensor&count=true&options=keyValues&attrs=temperature,status,fresh,extra", null);
        yield return (HttpMethod.Get, "entities?georel=near;maxDistance==2000&geometry=Point&coordinates=[106.80,10.90]&count=true", null);

        // Batch operations, with partial failures.
        yield return (HttpMethod.Post, "entityOperations/create", """
            [{"id": "urn:ngsi-ld:Lamp:1", "type": "Lamp", "power": {"type": "Property", "value": 60}},
             {"id": "urn:ngsi-ld:Lamp:2", "type": "Lamp", "power": {"type": "Property", "value": 100}},
             {"id": "urn:ngsi-ld:Sensor:00", "type": "Sensor"},
             {"id": "not a uri", "type": "Lamp"}]
            """);
        yield return (HttpMethod.Post, "entityOperations/upsert", """
            [{"id": "urn:ngsi-ld:Lamp:2", "type": "Lamp", "state": {"type": "Property", "value": "on"}},
             {"id": "urn:ngsi-ld:Lamp:3", "type": "Lamp", "power": {"type": "Property", "value": 40}}]
            """);
        yield return (HttpMethod.Post, "entityOperations/upsert?options=update", """[{"id": "urn:ngsi-ld:Lamp:1", "type": "Lamp", "state": {"type": "Property", "value": "off"}}]""");
        yield return (HttpMethod.Post, "entityOperations/update", """
            [{"id": "urn:ngsi-ld:Lamp:3", "type": "Lamp", "power": {"type": "Property", "value": 45}},
             {"id": "urn:ngsi-ld:Lamp:9", "type": "Lamp", "power": {"type": "Property", "value": 1}}]
            """);
        yield return (HttpMethod.Post, "entityOperations/delete", """["urn:ngsi-ld:Lamp:2", "urn:ngsi-ld:Lamp:8"]""");
        yield return (HttpMethod.Get, "entities?type=Lamp&count=true", null);
        yield return (HttpMethod.Get, "entities?type=Lamp&q=power>=45&options=keyValues", null);

        // Type changes and re-creation, which move entities between the stores' per-type indexes.
        yield return (HttpMethod.Post, "entityOperations/upsert?options=update", """[{"id": "urn:ngsi-ld:Lamp:1", "type": ["Lamp", "Landmark"]}]""");
        yield return (HttpMethod.Post, "entityOperations/upsert", """[{"id": "urn:ngsi-ld:Lamp:3", "type": "Landmark", "power": {"type": "Property", "value": 50}}]""");
        yield return (HttpMethod.Put, "entities/urn:ngsi-ld:Sensor:06", """{"type": ["Sensor", "Landmark"], "temperature": {"type": "Property", "value": 2}}""");
        yield return (HttpMethod.Post, "entities", """{"id": "urn:ngsi-ld:Sensor:05", "type": "Sensor", "temperature": {"type": "Property", "value": 5}}""");
        yield return (HttpMethod.Get, "entities?type=Landmark&count=true&options=keyValues&attrs=power,temperature", null);
        yield return (HttpMethod.Get, "entities?type=Sensor&count=true&options=keyValues&attrs=temperature", null);
        yield return (HttpMethod.Get, "entities?type=Lamp,Landmark&count=true&limit=3&offset=1&options=keyValues&attrs=power", null);
        yield return (HttpMethod.Get, "entities?type=Lamp;Landmark&count=true&options=keyValues&attrs=power", null);
        yield return (HttpMethod.Get, "entities?type=Lamp&q=temperature<10|power>40&options=keyValues", null);
        yield return (HttpMethod.Get, "types/Landmark", null);

        // Values where the stores' own types could leak through: numbers, strings, collation, regex dialects.
        yield return (HttpMethod.Post, "entityOperations/create", """
            [{"id": "urn:ngsi-ld:Edge:1", "type": "Edge", "n": {"type": "Property", "value": 1.0}, "s": {"type": "Property", "value": "apple"}, "t": {"type": "Property", "value": "2026-01-02T03:04:05Z"}},
             {"id": "urn:ngsi-ld:Edge:2", "type": "Edge", "n": {"type": "Property", "value": 0.30000000000000004}, "s": {"type": "Property", "value": "Banana"}, "t": {"type": "Property", "value": "2026-01-02T03:04:05.5Z"}},
             {"id": "urn:ngsi-ld:Edge:3", "type": "Edge", "n": {"type": "Property", "value": 12345678901234567}, "s": {"type": "Property", "value": "éclair"}, "t": {"type": "Property", "value": {"@type": "DateTime", "@value": "2026-01-03T00:00:00Z"}}},
             {"id": "urn:ngsi-ld:Edge:4", "type": "Edge", "n": {"type": "Property", "value": -1e-7}, "s": {"type": "Property", "value": "apple pie"}, "b": {"type": "Property", "value": true}},
             {"id": "urn:ngsi-ld:Edge:5", "type": "Edge", "n": {"type": "Property", "value": [1, 2, 3]}, "s": {"type": "Property", "value": ["x", "apple"]}, "b": {"type": "Property", "value": false}},
             {"id": "urn:ngsi-ld:Edge:6", "type": "Edge", "s": {"type": "Property", "value": "APPLE"}, "o": {"type": "Property", "value": {"k": [{"z": 1}, {"z": 2}]}}}]
            """);
        yield return (HttpMethod.Get, "entities?type=Edge&options=keyValues", null);
        foreach (var q in new[]
                 {
                     "n==1", "n>0.3", "n<0", "n==2", "n==1..2", "n>=12345678901234566", "s==%22apple%22", "s>%22Banana%22", "s<%22b%22",
                     "s==%22apple%22,%22APPLE%22", "s~=%5Eapp", "s~=(%3Fi)%5Eapp", "s~=pie%24", "s!=%22apple%22", "b==true", "b==false", "b!=true",
                     "t>2026-01-02T03:04:05Z", "t==2026-01-02T03:04:05Z", "t<2026-01-03T00:00:00Z", "o[k][z]==2", "s==%22%C3%A9clair%22", "n==%221%22",
                 })
        {
            yield return (HttpMethod.Get, "entities?type=Edge&attrs=n&count=true&q=" + q, null);
        }

        yield return (HttpMethod.Get, "entities?type=Edge&idPattern=Edge:[1-3]$&count=true&attrs=s", null);
        yield return (HttpMethod.Get, "entities?idPattern=(?i)urn:NGSI-LD:edge:1&attrs=s", null);
        yield return (HttpMethod.Get, "entities?type=Edge&idPattern=%5Curn&attrs=s", null);
        yield return (HttpMethod.Get, "entities?type=Edge&limit=2&offset=4&count=true&attrs=s", null);
        yield return (HttpMethod.Get, "entities?type=Edge&limit=2&offset=40&count=true", null);
        yield return (HttpMethod.Get, "entities?type=edge&count=true", null);
        yield return (HttpMethod.Get, "entities?type=Edge,Lamp&attrs=power,s&count=true&options=keyValues", null);
        yield return (HttpMethod.Get, "entities?type=(Edge;Lamp)|Building&count=true&options=keyValues&attrs=s", null);
        yield return (HttpMethod.Get, "entities?type=Building;Landmark&count=true&options=keyValues&attrs=floors", null);
        yield return (HttpMethod.Get, "entities?q=label[vi]==%22T%C3%B2a%20nh%C3%A0%22&count=true&attrs=label", null);
        yield return (HttpMethod.Get, "entities?type=Building&lang=vi&options=keyValues", null);
        yield return (HttpMethod.Get, "entities?type=Building&datasetId=urn:ngsi-ld:Dataset:b&attrs=floors", null);
        // Discovery.
        yield return (HttpMethod.Get, "types", null);
        yield return (HttpMethod.Get, "types?details=true", null);
        yield return (HttpMethod.Get, "types/Sensor", null);
        yield return (HttpMethod.Get, "types/Building", null);
        yield return (HttpMethod.Get, "types/Unknown", null);
        yield return (HttpMethod.Get, "attributes", null);
        yield return (HttpMethod.Get, "attributes?details=true", null);
        yield return (HttpMethod.Get, "attributes/temperature", null);
        yield return (HttpMethod.Get, "attributes/floors", null);
        yield return (HttpMethod.Get, "attributes/unknown", null);
    }

    [Fact]
    public async Task SQLite_and_PostgreSQL_servers_answer_the_same_requests_alike()
    {
        var differences = new StringBuilder();
        var compared = 0;
        var answers = new StringBuilder();
        foreach (var (method, path, body) in Requests())
        {
            var fromSqlite = await AnswerAsync(sqlite.Client, method, path, body);
            var fromPostgres = await AnswerAsync(postgres.Client, method, path, body);
            compared++;
            answers.AppendLine($"{method} {path}\n  {fromSqlite}");
            if (fromSqlite != fromPostgres)
            {
                differences.AppendLine($"{method} {path}\n  sqlite:   {fromSqlite}\n  postgres: {fromPostgres}");
            }
        }

        if (Environment.GetEnvironmentVariable("CITYOS_EQUIVALENCE_DUMP") is { Length: > 0 } dump)
        {
            await File.WriteAllTextAsync(dump, answers.ToString());
        }

        Assert.True(compared > 80, "the sequence got shorter than intended");
        // The sequence must exercise the stores, not just their error paths.
        Assert.Contains("GET entities?type=Sensor&count=true\n  200 count=10 ", answers.ToString(), StringComparison.Ordinal);
        Assert.Contains("GET entities?q=temperature>20&count=true&options=keyValues\n  200 count=4 ", answers.ToString(), StringComparison.Ordinal);
        Assert.True(differences.Length == 0, "the stores answered differently:\n" + differences);
    }

    [Fact]
    public async Task SQLite_and_PostgreSQL_servers_treat_unknown_tenants_and_racing_creates_alike()
    {
        // Requests in a tenant nobody has written to, then concurrent creates of one id: exactly one wins.
        const string Unknown = "never-written";
        string[] reads = ["entities?type=T", "entities/urn:ngsi-ld:T:1", "types", "attributes"];
        foreach (var path in reads)
        {
            Assert.Equal(
                await AnswerAsync(sqlite.Client, HttpMethod.Get, path, null, Unknown),
                await AnswerAsync(postgres.Client, HttpMethod.Get, path, null, Unknown));
        }

        foreach (var server in new CityOSServer[] { sqlite, postgres })
        {
            var tenant = "race" + Guid.NewGuid().ToString("N")[..8];
            var statuses = await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
            {
                using var response = await server.Client.NgPostAsync("entities", """{"id": "urn:ngsi-ld:T:race", "type": "T"}""", tenant);
                return (int)response.StatusCode;
            }));
            Assert.True(
                statuses.Count(s => s == 201) == 1 && statuses.Count(s => s == 409) == 7,
                $"{server.Store}: {string.Join(',', statuses)}");
        }
    }

    /// <summary>Status, result count and normalised body of one request, as one comparable line.</summary>
    private static async Task<string> AnswerAsync(HttpClient client, HttpMethod method, string path, string? body, string tenant = Tenant)
    {
        using var response = await client.SendAsync(method, path, body, tenant: tenant);
        var count = response.Headers.TryGetValues("NGSILD-Results-Count", out var values) ? string.Join(',', values) : "-";
        var text = await response.Content.ReadAsStringAsync();
        string normalised;
        try
        {
            normalised = text.Length == 0 ? "" : Normalise(JsonNode.Parse(text))?.ToJsonString() ?? "null";
        }
        catch (JsonException)
        {
            normalised = text;
        }

        return $"{(int)response.StatusCode} count={count} {GeneratedId().Replace(normalised, "$1:<generated>")}";
    }

    /// <summary>Drops system timestamps, which differ by when each server handled the request.</summary>
    private static JsonNode? Normalise(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var key in obj.Select(p => p.Key).Where(SystemTimestamps.Contains).ToList())
                {
                    obj.Remove(key);
                }

                foreach (var (_, value) in obj)
                {
                    Normalise(value);
                }

                break;
            case JsonArray array:
                foreach (var item in array)
                {
                    Normalise(item);
                }

                break;
        }

        return node;
    }

    /// <summary>Ids the broker makes up for discovery results (urn:ngsi-ld:AttributeList:&lt;guid&gt;); the requests' own ids hold no GUID.</summary>
    [GeneratedRegex(@"(urn:ngsi-ld:[A-Za-z]+):[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")]
    private static partial Regex GeneratedId();
}
