using System.Net;
using System.Text.Json.Nodes;

namespace CityOS.Server.Tests.NgsiLd;

public abstract class EntityTests(CityOSServer server)
{
    private readonly HttpClient _client = server.Client;

    private static string Vehicle(string id, double speed = 55) => $$"""
        {
          "id": "{{id}}",
          "type": "Vehicle",
          "speed": { "type": "Property", "value": {{speed}}, "unitCode": "KMH", "observedAt": "2026-11-23T08:00:00Z",
                     "accuracy": { "type": "Property", "value": 0.9 } },
          "brandName": { "type": "Property", "value": "VinFast" },
          "isParked": { "type": "Relationship", "object": "urn:ngsi-ld:Parking:P1" },
          "location": { "type": "GeoProperty", "value": { "type": "Point", "coordinates": [106.65, 10.98] } },
          "name": { "type": "LanguageProperty", "languageMap": { "vi": "Xe buýt", "en": "Bus" } }
        }
        """;

    [Fact]
    public async Task Create_answers_201_with_location_and_retrieve_returns_normalized_entity()
    {
        var id = Http.NewId("Vehicle");
        using var created = await _client.NgPostAsync("entities", Vehicle(id));
        await created.ExpectAsync(HttpStatusCode.Created);
        Assert.Equal("/ngsi-ld/v1/entities/" + id, created.Headers.Location!.OriginalString);

        using var got = await _client.NgGetAsync("entities/" + id);
        await got.ExpectAsync(HttpStatusCode.OK);
        Assert.Contains("rel=\"http://www.w3.org/ns/json-ld#context\"", got.Headers.GetValues("Link").Single(), StringComparison.Ordinal);
        var entity = await got.JsonAsync();
        Assert.Equal(id, (string?)entity["id"]);
        Assert.Equal("Vehicle", (string?)entity["type"]);
        Assert.Equal(55, (double)entity["speed"]!["value"]!);
        Assert.Equal("KMH", (string?)entity["speed"]!["unitCode"]);
        Assert.Equal(0.9, (double)entity["speed"]!["accuracy"]!["value"]!);
        Assert.Equal("urn:ngsi-ld:Parking:P1", (string?)entity["isParked"]!["object"]);
        Assert.Equal("Point", (string?)entity["location"]!["value"]!["type"]);
        Assert.Null(entity["createdAt"]);
    }

    [Fact]
    public async Task Create_of_existing_id_is_409_AlreadyExists()
    {
        var id = Http.NewId("Vehicle");
        (await _client.NgPostAsync("entities", Vehicle(id))).Dispose();
        using var again = await _client.NgPostAsync("entities", Vehicle(id));
        await again.ExpectAsync(HttpStatusCode.Conflict, "AlreadyExists");
    }

    [Theory]
    [InlineData("{\"id\": \"urn:x:1\", \"type\": ")]
    [InlineData("not json at all")]
    public async Task Malformed_json_is_400_InvalidRequest(string body)
    {
        using var response = await _client.NgPostAsync("entities", body);
        await response.ExpectAsync(HttpStatusCode.BadRequest, "InvalidRequest");
    }

    [Theory]
    [InlineData("{\"type\": \"Vehicle\"}")]
    [InlineData("{\"id\": \"not a uri\", \"type\": \"Vehicle\"}")]
    [InlineData("{\"id\": \"urn:ngsi-ld:V:1\"}")]
    [InlineData("{\"id\": \"urn:ngsi-ld:V:2\", \"type\": \"Vehicle\", \"speed\": {\"type\": \"Property\"}}")]
    [InlineData("{\"id\": \"urn:ngsi-ld:V:3\", \"type\": \"Vehicle\", \"speed\": {\"type\": \"Relationship\", \"object\": 5}}")]
    [InlineData("{\"id\": \"urn:ngsi-ld:V:4\", \"type\": \"Vehicle\", \"speed\": {\"type\": \"Property\", \"value\": 1, \"observedAt\": \"yesterday\"}}")]
    [InlineData("{\"id\": \"urn:ngsi-ld:V:5\", \"type\": \"Vehicle\", \"location\": {\"type\": \"GeoProperty\", \"value\": {\"type\": \"Point\", \"coordinates\": [500, 1]} } }")]
    [InlineData("{\"id\": \"urn:ngsi-ld:V:6\", \"type\": \"Vehicle\", \"speed\": {\"type\": \"Property\", \"value\": \"urn:ngsi-ld:null\"}}")]
    [InlineData("[1, 2]")]
    public async Task Invalid_entity_is_400_BadRequestData_and_nothing_is_written(string body)
    {
        using var response = await _client.NgPostAsync("entities", body);
        await response.ExpectAsync(HttpStatusCode.BadRequest, "BadRequestData");
        var id = (JsonNode.Parse(body) as JsonObject)?["id"]?.ToString();
        if (id is not null && Uri.TryCreate(id, UriKind.Absolute, out _))
        {
            using var get = await _client.NgGetAsync("entities/" + id);
            Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
        }
    }

    [Fact]
    public async Task Absurdly_nested_body_is_400_not_500()
    {
        var deep = new string('[', 5000) + new string(']', 5000);
        var body = "{\"id\": \"urn:ngsi-ld:Deep:1\", \"type\": \"T\", \"p\": {\"type\": \"Property\", \"value\": " + deep + "}}";
        using var response = await _client.NgPostAsync("entities", body);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task Oversize_body_is_413_before_it_is_read()
    {
        // A raw socket announces a 9 MiB body and sends none of it: the answer must come from the headers alone.
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(server.BaseAddress.Host, server.BaseAddress.Port);
        var stream = tcp.GetStream();
        var head = "POST /ngsi-ld/v1/entities HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            + $"Content-Length: {9 * 1024 * 1024}\r\nConnection: close\r\n\r\n";
        await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(head));
        using var reader = new StreamReader(stream);
        var statusLine = await reader.ReadLineAsync();
        Assert.StartsWith("HTTP/1.1 413", statusLine, StringComparison.Ordinal);
        var rest = await reader.ReadToEndAsync();
        Assert.Contains("https://uri.etsi.org/ngsi-ld/errors/", rest, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Chunked_body_past_the_limit_is_rejected_and_nothing_written()
    {
        var id = Http.NewId();
        var big = "{\"id\": \"" + id + "\", \"type\": \"T\", \"p\": {\"type\": \"Property\", \"value\": \"" + new string('x', 9 * 1024 * 1024) + "\"}}";
        using var content = new StreamContent(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(big)));
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/ngsi-ld/v1/entities") { Content = content };
        request.Headers.TransferEncodingChunked = true;
        try
        {
            using var response = await _client.SendAsync(request);
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        }
        catch (HttpRequestException)
        {
            // The server may close the connection while the client is still sending: also a rejection.
        }

        using var get = await _client.NgGetAsync("entities/" + id);
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
    }

    [Fact]
    public async Task Unsupported_content_type_is_415()
    {
        using var response = await _client.NgPostAsync("entities", "<xml/>", contentType: "application/xml");
        await response.ExpectAsync(HttpStatusCode.UnsupportedMediaType, "UnsupportedMediaType");
    }

    [Fact]
    public async Task Json_body_with_context_is_400_and_ld_json_without_context_is_400()
    {
        using var withContext = await _client.NgPostAsync("entities", $$"""{"id": "{{Http.NewId()}}", "type": "T", "@context": "{{Http.CoreContext}}"}""");
        await withContext.ExpectAsync(HttpStatusCode.BadRequest, "BadRequestData");
        using var ldWithout = await _client.NgPostAsync("entities", $$"""{"id": "{{Http.NewId()}}", "type": "T"}""", contentType: "application/ld+json");
        await ldWithout.ExpectAsync(HttpStatusCode.BadRequest, "BadRequestData");
    }

    [Fact]
    public async Task Ld_json_create_and_accept_puts_context_in_body()
    {
        var id = Http.NewId();
        using var created = await _client.NgPostAsync("entities", $$"""{"id": "{{id}}", "type": "T", "p": {"type": "Property", "value": 1}, "@context": "{{Http.CoreContext}}"}""", contentType: "application/ld+json");
        await created.ExpectAsync(HttpStatusCode.Created);
        using var got = await _client.NgGetAsync("entities/" + id, accept: "application/ld+json");
        await got.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("application/ld+json", got.Content.Headers.ContentType!.MediaType);
        Assert.NotNull((await got.JsonAsync())["@context"]);
    }

    [Fact]
    public async Task Unacceptable_accept_is_406()
    {
        var id = Http.NewId();
        (await _client.NgPostAsync("entities", $$"""{"id": "{{id}}", "type": "T"}""")).Dispose();
        using var got = await _client.NgGetAsync("entities/" + id, accept: "application/xml");
        Assert.Equal(HttpStatusCode.NotAcceptable, got.StatusCode);
    }

    [Fact]
    public async Task Retrieve_of_unknown_entity_is_404_ResourceNotFound()
    {
        using var response = await _client.NgGetAsync("entities/urn:ngsi-ld:Nothing:here");
        await response.ExpectAsync(HttpStatusCode.NotFound, "ResourceNotFound");
    }

    [Fact]
    public async Task KeyValues_and_concise_representations()
    {
        var id = Http.NewId("Vehicle");
        (await _client.NgPostAsync("entities", Vehicle(id))).Dispose();
        var simplified = await (await _client.NgGetAsync($"entities/{id}?options=keyValues")).JsonAsync();
        Assert.Equal(55, (double)simplified["speed"]!);
        Assert.Equal("urn:ngsi-ld:Parking:P1", (string?)simplified["isParked"]);
        var viaFormat = await (await _client.NgGetAsync($"entities/{id}?format=simplified")).JsonAsync();
        Assert.Equal(55, (double)viaFormat["speed"]!);
        var concise = await (await _client.NgGetAsync($"entities/{id}?format=concise")).JsonAsync();
        Assert.Equal("VinFast", (string?)concise["brandName"]);
        Assert.Equal(55, (double)concise["speed"]!["value"]!);
        Assert.Equal("urn:ngsi-ld:Parking:P1", (string?)concise["isParked"]!["object"]);
    }

    [Fact]
    public async Task SysAttrs_adds_timestamps()
    {
        var id = Http.NewId("Vehicle");
        (await _client.NgPostAsync("entities", Vehicle(id))).Dispose();
        var entity = await (await _client.NgGetAsync($"entities/{id}?options=sysAttrs")).JsonAsync();
        Assert.NotNull(entity["createdAt"]);
        Assert.NotNull(entity["modifiedAt"]);
        Assert.NotNull(entity["speed"]!["createdAt"]);
    }

    [Fact]
    public async Task Pick_and_omit_project_the_entity()
    {
        var id = Http.NewId("Vehicle");
        (await _client.NgPostAsync("entities", Vehicle(id))).Dispose();
        var picked = (await (await _client.NgGetAsync($"entities/{id}?pick=id,speed")).JsonAsync()).AsObject();
        Assert.True(picked.ContainsKey("speed"));
        Assert.False(picked.ContainsKey("brandName"));
        Assert.False(picked.ContainsKey("type"));
        var omitted = (await (await _client.NgGetAsync($"entities/{id}?omit=speed")).JsonAsync()).AsObject();
        Assert.False(omitted.ContainsKey("speed"));
        Assert.True(omitted.ContainsKey("brandName"));
    }

    [Fact]
    public async Task Lang_turns_language_property_into_property()
    {
        var id = Http.NewId("Vehicle");
        (await _client.NgPostAsync("entities", Vehicle(id))).Dispose();
        var entity = await (await _client.NgGetAsync($"entities/{id}?lang=vi")).JsonAsync();
        Assert.Equal("Property", (string?)entity["name"]!["type"]);
        Assert.Equal("Xe buýt", (string?)entity["name"]!["value"]);
        Assert.Equal("vi", (string?)entity["name"]!["lang"]);
    }

    [Fact]
    public async Task GeoJson_accept_returns_a_feature()
    {
        var id = Http.NewId("Vehicle");
        (await _client.NgPostAsync("entities", Vehicle(id))).Dispose();
        using var response = await _client.NgGetAsync("entities/" + id, accept: "application/geo+json");
        await response.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("application/geo+json", response.Content.Headers.ContentType!.MediaType);
        var feature = await response.JsonAsync();
        Assert.Equal("Feature", (string?)feature["type"]);
        Assert.Equal("Point", (string?)feature["geometry"]!["type"]);
    }

    [Fact]
    public async Task Replace_drops_attributes_not_in_payload_and_keeps_createdAt()
    {
        var id = Http.NewId("Vehicle");
        (await _client.NgPostAsync("entities", Vehicle(id))).Dispose();
        var before = await (await _client.NgGetAsync($"entities/{id}?options=sysAttrs")).JsonAsync();
        using var replaced = await _client.NgPutAsync("entities/" + id, """{"type": "Vehicle", "speed": {"type": "Property", "value": 10}}""");
        await replaced.ExpectAsync(HttpStatusCode.NoContent);
        var after = (await (await _client.NgGetAsync($"entities/{id}?options=sysAttrs")).JsonAsync()).AsObject();
        Assert.Equal(10, (double)after["speed"]!["value"]!);
        Assert.False(after.ContainsKey("brandName"));
        Assert.Equal((string?)before["createdAt"], (string?)after["createdAt"]);
    }

    [Fact]
    public async Task Merge_patch_updates_members_and_ngsi_ld_null_deletes()
    {
        var id = Http.NewId("Vehicle");
        (await _client.NgPostAsync("entities", Vehicle(id))).Dispose();
        using var merged = await _client.NgPatchAsync("entities/" + id, """{"speed": {"value": 70}, "brandName": "urn:ngsi-ld:null", "color": {"type": "Property", "value": "red"}}""");
        await merged.ExpectAsync(HttpStatusCode.NoContent);
        var entity = (await (await _client.NgGetAsync("entities/" + id)).JsonAsync()).AsObject();
        Assert.Equal(70, (double)entity["speed"]!["value"]!);
        Assert.Equal("KMH", (string?)entity["speed"]!["unitCode"]);
        Assert.False(entity.ContainsKey("brandName"));
        Assert.Equal("red", (string?)entity["color"]!["value"]);
    }

    [Fact]
    public async Task Append_with_noOverwrite_keeps_existing_and_answers_207()
    {
        var id = Http.NewId("Vehicle");
        (await _client.NgPostAsync("entities", Vehicle(id))).Dispose();
        using var response = await _client.NgPostAsync($"entities/{id}/attrs?options=noOverwrite", """{"speed": {"type": "Property", "value": 1}, "fuel": {"type": "Property", "value": 40}}""");
        await response.ExpectAsync(HttpStatusCode.MultiStatus);
        var result = await response.JsonAsync();
        Assert.Contains("fuel", result["updated"]!.AsArray().Select(n => (string?)n));
        Assert.Equal("speed", (string?)result["notUpdated"]![0]!["attributeName"]);
        var entity = await (await _client.NgGetAsync("entities/" + id)).JsonAsync();
        Assert.Equal(55, (double)entity["speed"]!["value"]!);
        Assert.Equal(40, (double)entity["fuel"]!["value"]!);
    }

    [Fact]
    public async Task Append_overwrites_whole_attribute()
    {
        var id = Http.NewId("Vehicle");
        (await _client.NgPostAsync("entities", Vehicle(id))).Dispose();
        using var response = await _client.NgPostAsync($"entities/{id}/attrs", """{"speed": {"type": "Property", "value": 1}}""");
        await response.ExpectAsync(HttpStatusCode.NoContent);
        var entity = await (await _client.NgGetAsync("entities/" + id)).JsonAsync();
        Assert.Equal(1, (double)entity["speed"]!["value"]!);
        Assert.Null(entity["speed"]!["unitCode"]);
    }

    [Fact]
    public async Task Update_attrs_reports_absent_attributes_as_not_updated()
    {
        var id = Http.NewId("Vehicle");
        (await _client.NgPostAsync("entities", Vehicle(id))).Dispose();
        using var response = await _client.NgPatchAsync($"entities/{id}/attrs", """{"speed": {"type": "Property", "value": 2}, "ghost": {"type": "Property", "value": 3}}""");
        await response.ExpectAsync(HttpStatusCode.MultiStatus);
        var result = await response.JsonAsync();
        Assert.Equal("ghost", (string?)result["notUpdated"]![0]!["attributeName"]);
        var entity = (await (await _client.NgGetAsync("entities/" + id)).JsonAsync()).AsObject();
        Assert.Equal(2, (double)entity["speed"]!["value"]!);
        Assert.False(entity.ContainsKey("ghost"));
    }

    [Fact]
    public async Task Partial_attribute_update_overwrites_only_sent_members()
    {
        var id = Http.NewId("Vehicle");
        (await _client.NgPostAsync("entities", Vehicle(id))).Dispose();
        using var response = await _client.NgPatchAsync($"entities/{id}/attrs/speed", """{"value": 99}""");
        await response.ExpectAsync(HttpStatusCode.NoContent);
        var entity = await (await _client.NgGetAsync("entities/" + id)).JsonAsync();
        Assert.Equal(99, (double)entity["speed"]!["value"]!);
        Assert.Equal("KMH", (string?)entity["speed"]!["unitCode"]);
        using var missing = await _client.NgPatchAsync($"entities/{id}/attrs/ghost", """{"value": 1}""");
        await missing.ExpectAsync(HttpStatusCode.NotFound, "ResourceNotFound");
    }

    [Fact]
    public async Task Replace_attribute_requires_existing_attribute()
    {
        var id = Http.NewId("Vehicle");
        (await _client.NgPostAsync("entities", Vehicle(id))).Dispose();
        using var ok = await _client.NgPutAsync($"entities/{id}/attrs/speed", """{"type": "Property", "value": 5}""");
        await ok.ExpectAsync(HttpStatusCode.NoContent);
        var entity = await (await _client.NgGetAsync("entities/" + id)).JsonAsync();
        Assert.Equal(5, (double)entity["speed"]!["value"]!);
        Assert.Null(entity["speed"]!["unitCode"]);
        using var missing = await _client.NgPutAsync($"entities/{id}/attrs/ghost", """{"type": "Property", "value": 5}""");
        await missing.ExpectAsync(HttpStatusCode.NotFound, "ResourceNotFound");
    }

    [Fact]
    public async Task Multi_instance_attributes_and_delete_by_datasetId_and_deleteAll()
    {
        var id = Http.NewId("Sensor");
        var body = $$"""
            {"id": "{{id}}", "type": "Sensor",
             "temperature": [
               {"type": "Property", "value": 20},
               {"type": "Property", "value": 21, "datasetId": "urn:ngsi-ld:dataset:b"}
             ],
             "humidity": [
               {"type": "Property", "value": 50},
               {"type": "Property", "value": 51, "datasetId": "urn:ngsi-ld:dataset:b"}
             ]}
            """;
        await (await _client.NgPostAsync("entities", body)).ExpectAsync(HttpStatusCode.Created);
        var entity = await (await _client.NgGetAsync("entities/" + id)).JsonAsync();
        Assert.Equal(2, entity["temperature"]!.AsArray().Count);

        await (await _client.NgDeleteAsync($"entities/{id}/attrs/temperature?datasetId=urn:ngsi-ld:dataset:b")).ExpectAsync(HttpStatusCode.NoContent);
        entity = await (await _client.NgGetAsync("entities/" + id)).JsonAsync();
        Assert.Equal(20, (double)entity["temperature"]!["value"]!);

        await (await _client.NgDeleteAsync($"entities/{id}/attrs/humidity?deleteAll=true")).ExpectAsync(HttpStatusCode.NoContent);
        entity = await (await _client.NgGetAsync("entities/" + id)).JsonAsync();
        Assert.Null(entity["humidity"]);

        await (await _client.NgDeleteAsync($"entities/{id}/attrs/humidity")).ExpectAsync(HttpStatusCode.NotFound, "ResourceNotFound");
    }

    [Fact]
    public async Task Attribute_kinds_round_trip()
    {
        var id = Http.NewId("Kinds");
        var body = $$"""
            {"id": "{{id}}", "type": "Kinds",
             "category": {"type": "VocabProperty", "vocab": "industrial"},
             "raw": {"type": "JsonProperty", "json": {"a": 1, "b": [true, null]} },
             "readings": {"type": "ListProperty", "valueList": [1, 2, 3]},
             "neighbours": {"type": "ListRelationship", "objectList": [{"object": "urn:ngsi-ld:N:1"}, {"object": "urn:ngsi-ld:N:2"}]},
             "owners": {"type": "Relationship", "object": ["urn:ngsi-ld:O:1", "urn:ngsi-ld:O:2"]} }
            """;
        await (await _client.NgPostAsync("entities", body)).ExpectAsync(HttpStatusCode.Created);
        var entity = await (await _client.NgGetAsync("entities/" + id)).JsonAsync();
        Assert.Equal("industrial", (string?)entity["category"]!["vocab"]);
        Assert.Equal(1, (int)entity["raw"]!["json"]!["a"]!);
        Assert.Equal(3, entity["readings"]!["valueList"]!.AsArray().Count);
        Assert.Equal("urn:ngsi-ld:N:2", (string?)entity["neighbours"]!["objectList"]![1]!["object"]);
        Assert.Equal(2, entity["owners"]!["object"]!.AsArray().Count);
    }

    [Fact]
    public async Task Delete_entity_then_404()
    {
        var id = Http.NewId();
        (await _client.NgPostAsync("entities", $$"""{"id": "{{id}}", "type": "T"}""")).Dispose();
        await (await _client.NgDeleteAsync("entities/" + id)).ExpectAsync(HttpStatusCode.NoContent);
        await (await _client.NgGetAsync("entities/" + id)).ExpectAsync(HttpStatusCode.NotFound, "ResourceNotFound");
        await (await _client.NgDeleteAsync("entities/" + id)).ExpectAsync(HttpStatusCode.NotFound, "ResourceNotFound");
    }

    [Fact]
    public async Task Unknown_query_parameter_is_400()
    {
        var id = Http.NewId();
        (await _client.NgPostAsync("entities", $$"""{"id": "{{id}}", "type": "T"}""")).Dispose();
        await (await _client.NgGetAsync($"entities/{id}?bogus=1")).ExpectAsync(HttpStatusCode.BadRequest, "BadRequestData");
    }

    [Fact]
    public async Task Wrong_method_is_405_with_allow()
    {
        using var response = await _client.SendAsync(HttpMethod.Put, "entities");
        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
    }

    [Fact]
    public async Task Trailing_slash_is_accepted()
    {
        var id = Http.NewId();
        using var response = await _client.NgPostAsync("/ngsi-ld/v1/entities/", $$"""{"id": "{{id}}", "type": "T"}""");
        await response.ExpectAsync(HttpStatusCode.Created);
    }
}

[Collection(SharedSqliteServer.Name)]
public sealed class EntityTestsOnSqlite(SqliteServer server) : EntityTests(server);

[Collection(SharedPostgresServer.Name)]
public sealed class EntityTestsOnPostgres(PostgresServer server) : EntityTests(server);
