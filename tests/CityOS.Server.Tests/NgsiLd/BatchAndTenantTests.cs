using System.Net;
using System.Text.Json.Nodes;

namespace CityOS.Server.Tests.NgsiLd;

public abstract class BatchAndTenantTests(CityOSServer server)
{
    private readonly HttpClient _client = server.Client;

    private static string NewTenant() => "t" + Guid.NewGuid().ToString("N")[..12];

    private static string Entity(string id, int value, string attr = "p") =>
        $$"""{"id": "{{id}}", "type": "T", "{{attr}}": {"type": "Property", "value": {{value}}, "sub": {"type": "Property", "value": "s"} } }""";

    [Fact]
    public async Task Batch_create_answers_201_with_ids_and_207_when_any_fails()
    {
        var tenant = NewTenant();
        var (a, b) = (Http.NewId(), Http.NewId());
        using var created = await _client.NgPostAsync("entityOperations/create", $"[{Entity(a, 1)}, {Entity(b, 2)}]", tenant);
        await created.ExpectAsync(HttpStatusCode.Created);
        Assert.Equal([a, b], (await created.JsonAsync()).AsArray().Select(n => (string?)n));

        var c = Http.NewId();
        using var partial = await _client.NgPostAsync("entityOperations/create", $$"""[{{Entity(a, 1)}}, {{Entity(c, 3)}}, {"id": "bad id", "type": "T"}]""", tenant);
        await partial.ExpectAsync(HttpStatusCode.MultiStatus);
        var result = await partial.JsonAsync();
        Assert.Equal([c], result["success"]!.AsArray().Select(n => (string?)n));
        var errors = result["errors"]!.AsArray();
        Assert.Equal(2, errors.Count);
        Assert.Equal(a, (string?)errors[0]!["entityId"]);
        Assert.Equal("https://uri.etsi.org/ngsi-ld/errors/AlreadyExists", (string?)errors[0]!["error"]!["type"]);
    }

    [Fact]
    public async Task Upsert_answers_201_with_new_ids_only_then_204()
    {
        var tenant = NewTenant();
        var (a, b) = (Http.NewId(), Http.NewId());
        (await _client.NgPostAsync("entities", Entity(a, 1), tenant)).Dispose();
        using var first = await _client.NgPostAsync("entityOperations/upsert", $"[{Entity(a, 10)}, {Entity(b, 20)}]", tenant);
        await first.ExpectAsync(HttpStatusCode.Created);
        Assert.Equal([b], (await first.JsonAsync()).AsArray().Select(n => (string?)n));
        using var second = await _client.NgPostAsync("entityOperations/upsert", $"[{Entity(a, 11)}, {Entity(b, 21)}]", tenant);
        await second.ExpectAsync(HttpStatusCode.NoContent);
        var entity = await (await _client.NgGetAsync("entities/" + a, tenant)).JsonAsync();
        Assert.Equal(11, (int)entity["p"]!["value"]!);
    }

    [Fact]
    public async Task Upsert_with_replace_drops_attributes_not_in_payload_and_update_keeps_them()
    {
        var tenant = NewTenant();
        var id = Http.NewId();
        (await _client.NgPostAsync("entities", Entity(id, 1, "keep"), tenant)).Dispose();
        await (await _client.NgPostAsync("entityOperations/upsert?options=update", $"[{Entity(id, 2, "extra")}]", tenant)).ExpectAsync(HttpStatusCode.NoContent);
        var updated = (await (await _client.NgGetAsync("entities/" + id, tenant)).JsonAsync()).AsObject();
        Assert.True(updated.ContainsKey("keep"));
        Assert.True(updated.ContainsKey("extra"));

        await (await _client.NgPostAsync("entityOperations/upsert?options=replace", $"[{Entity(id, 3, "only")}]", tenant)).ExpectAsync(HttpStatusCode.NoContent);
        var replaced = (await (await _client.NgGetAsync("entities/" + id, tenant)).JsonAsync()).AsObject();
        Assert.False(replaced.ContainsKey("keep"));
        Assert.True(replaced.ContainsKey("only"));
    }

    [Fact]
    public async Task Batch_update_replaces_each_attribute_and_respects_noOverwrite()
    {
        var tenant = NewTenant();
        var id = Http.NewId();
        (await _client.NgPostAsync("entities", Entity(id, 1), tenant)).Dispose();
        var update = $$"""[{"id": "{{id}}", "type": "T", "p": {"type": "Property", "value": 5} }]""";
        await (await _client.NgPostAsync("entityOperations/update?options=noOverwrite", update, tenant)).ExpectAsync(HttpStatusCode.NoContent);
        var kept = await (await _client.NgGetAsync("entities/" + id, tenant)).JsonAsync();
        Assert.Equal(1, (int)kept["p"]!["value"]!);

        await (await _client.NgPostAsync("entityOperations/update", update, tenant)).ExpectAsync(HttpStatusCode.NoContent);
        var replaced = await (await _client.NgGetAsync("entities/" + id, tenant)).JsonAsync();
        Assert.Equal(5, (int)replaced["p"]!["value"]!);
        Assert.Null(replaced["p"]!["sub"]);

        var unknown = $$"""[{"id": "{{Http.NewId()}}", "type": "T", "p": {"type": "Property", "value": 5} }]""";
        await (await _client.NgPostAsync("entityOperations/update", unknown, tenant)).ExpectAsync(HttpStatusCode.MultiStatus);
    }

    [Fact]
    public async Task Batch_merge_and_delete()
    {
        var tenant = NewTenant();
        var (a, b) = (Http.NewId(), Http.NewId());
        (await _client.NgPostAsync("entityOperations/create", $"[{Entity(a, 1)}, {Entity(b, 2)}]", tenant)).Dispose();
        var merge = $$"""[{"id": "{{a}}", "p": {"value": 7} }]""";
        await (await _client.NgPostAsync("entityOperations/merge", merge, tenant)).ExpectAsync(HttpStatusCode.NoContent);
        var merged = await (await _client.NgGetAsync("entities/" + a, tenant)).JsonAsync();
        Assert.Equal(7, (int)merged["p"]!["value"]!);
        Assert.Equal("s", (string?)merged["p"]!["sub"]!["value"]);

        using var deleted = await _client.NgPostAsync("entityOperations/delete", $"[\"{a}\", \"{b}\", \"urn:ngsi-ld:T:missing\"]", tenant);
        await deleted.ExpectAsync(HttpStatusCode.MultiStatus);
        var result = await deleted.JsonAsync();
        Assert.Equal(2, result["success"]!.AsArray().Count);
        Assert.Equal("urn:ngsi-ld:T:missing", (string?)result["errors"]![0]!["entityId"]);
        await (await _client.NgGetAsync("entities/" + a, tenant)).ExpectAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Tenants_are_isolated_and_unknown_tenant_is_NonexistentTenant()
    {
        var (t1, t2) = (NewTenant(), NewTenant());
        var id = Http.NewId();
        (await _client.NgPostAsync("entities", Entity(id, 1), t1)).Dispose();
        (await _client.NgPostAsync("entities", Entity(Http.NewId(), 1), t2)).Dispose();
        await (await _client.NgGetAsync("entities/" + id, t1)).ExpectAsync(HttpStatusCode.OK);
        await (await _client.NgGetAsync("entities/" + id, t2)).ExpectAsync(HttpStatusCode.NotFound, "ResourceNotFound");
        await (await _client.NgGetAsync("entities/" + id)).ExpectAsync(HttpStatusCode.NotFound, "ResourceNotFound");
        using var unknown = await _client.NgGetAsync("entities/" + id, NewTenant());
        await unknown.ExpectAsync(HttpStatusCode.NotFound, "NonexistentTenant");
        await (await _client.NgGetAsync("entities?type=T", NewTenant())).ExpectAsync(HttpStatusCode.NotFound, "NonexistentTenant");
        await (await _client.NgPatchAsync($"entities/{id}/attrs", "{}", NewTenant())).ExpectAsync(HttpStatusCode.NotFound, "NonexistentTenant");
        await (await _client.NgGetAsync("entities/" + id, "bad tenant!")).ExpectAsync(HttpStatusCode.BadRequest, "BadRequestData");
    }

    [Fact]
    public async Task Purge_deletes_matching_entities()
    {
        var tenant = NewTenant();
        (await _client.NgPostAsync("entityOperations/create", $"[{Entity(Http.NewId(), 1)}, {Entity(Http.NewId(), 2)}, {Entity(Http.NewId(), 3)}]", tenant)).Dispose();
        await (await _client.SendAsync(HttpMethod.Delete, "entities?type=T&q=p>1", tenant: tenant)).ExpectAsync(HttpStatusCode.NoContent);
        using var remaining = await _client.NgGetAsync("entities?type=T&count=true", tenant);
        Assert.Equal("1", remaining.Headers.GetValues("NGSILD-Results-Count").Single());
    }

    [Fact]
    public async Task Empty_and_non_array_batches_are_400()
    {
        await (await _client.NgPostAsync("entityOperations/create", "[]")).ExpectAsync(HttpStatusCode.BadRequest, "BadRequestData");
        await (await _client.NgPostAsync("entityOperations/create", "{}")).ExpectAsync(HttpStatusCode.BadRequest, "BadRequestData");
    }
}

[Collection(SharedSqliteServer.Name)]
public sealed class BatchAndTenantTestsOnSqlite(SqliteServer server) : BatchAndTenantTests(server);

[Collection(SharedPostgresServer.Name)]
public sealed class BatchAndTenantTestsOnPostgres(PostgresServer server) : BatchAndTenantTests(server);
