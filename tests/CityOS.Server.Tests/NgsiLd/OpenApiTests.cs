using System.Text.Json.Nodes;

namespace CityOS.Server.Tests.NgsiLd;

/// <summary>/openapi/v1.json documents every NGSI-LD operation with its parameters, bodies and status codes.</summary>
public abstract class OpenApiTests(CityOSServer server)
{
    private const string B = "/ngsi-ld/v1";

    public static TheoryData<string, string, string> Operations => new()
    {
        { "post", B + "/entities", "201,400,409,415,500" },
        { "get", B + "/entities", "200,400,403,406" },
        { "delete", B + "/entities", "204,400" },
        { "get", B + "/entities/{entityId}", "200,400,404,406" },
        { "put", B + "/entities/{entityId}", "204,400,404" },
        { "patch", B + "/entities/{entityId}", "204,400,404" },
        { "delete", B + "/entities/{entityId}", "204,404" },
        { "post", B + "/entities/{entityId}/attrs", "204,207,404" },
        { "patch", B + "/entities/{entityId}/attrs", "204,207,404" },
        { "patch", B + "/entities/{entityId}/attrs/{attrId}", "204,404" },
        { "put", B + "/entities/{entityId}/attrs/{attrId}", "204,404" },
        { "delete", B + "/entities/{entityId}/attrs/{attrId}", "204,404" },
        { "post", B + "/entityOperations/create", "201,207,400" },
        { "post", B + "/entityOperations/upsert", "201,204,207" },
        { "post", B + "/entityOperations/update", "204,207" },
        { "post", B + "/entityOperations/merge", "204,207" },
        { "post", B + "/entityOperations/delete", "204,207" },
        { "post", B + "/entityOperations/query", "200,400,406" },
        { "get", B + "/types", "200,406" },
        { "get", B + "/types/{type}", "200,404" },
        { "get", B + "/attributes", "200,406" },
        { "get", B + "/attributes/{attrId}", "200,404" },
        { "post", B + "/jsonldContexts", "201,400" },
        { "get", B + "/jsonldContexts", "200,400" },
        { "get", B + "/jsonldContexts/{contextId}", "200,404" },
        { "delete", B + "/jsonldContexts/{contextId}", "204,400,404" },
        { "post", B + "/subscriptions", "201,400,409,415" },
        { "get", B + "/subscriptions", "200,400,403" },
        { "get", B + "/subscriptions/{subscriptionId}", "200,400,404" },
        { "patch", B + "/subscriptions/{subscriptionId}", "204,400,404" },
        { "delete", B + "/subscriptions/{subscriptionId}", "204,404" },
    };

    private async Task<JsonNode> DocumentAsync() => JsonNode.Parse(await server.Client.GetStringAsync("/openapi/v1.json"))!;

    [Theory]
    [MemberData(nameof(Operations))]
    public async Task Every_ngsi_ld_operation_is_documented_with_summary_tenant_header_and_status_codes(string method, string path, string statuses)
    {
        var operation = (await DocumentAsync())["paths"]?[path]?[method];
        Assert.True(operation is not null, $"{method.ToUpperInvariant()} {path} is missing");
        Assert.False(string.IsNullOrWhiteSpace((string?)operation["summary"]));
        Assert.False(string.IsNullOrWhiteSpace((string?)operation["description"]));
        var responses = operation["responses"]!.AsObject();
        foreach (var status in statuses.Split(','))
        {
            Assert.True(responses.ContainsKey(status), $"{method} {path} lacks {status}");
        }

        // Errors are problem details as application/json (FACTS §2, §11.15).
        Assert.NotNull(responses["400"]?["content"]?["application/json"]);
        var parameters = operation["parameters"]!.AsArray();
        Assert.Contains(parameters, p => (string?)p!["name"] == "NGSILD-Tenant" && (string?)p["in"] == "header");
        var hasBody = operation["requestBody"] is not null;
        Assert.Equal(method is "post" or "put" or "patch", hasBody);
    }

    [Fact]
    public async Task Query_entities_lists_its_query_parameters_and_media_types()
    {
        var operation = (await DocumentAsync())["paths"]![B + "/entities"]!["get"]!;
        var names = operation["parameters"]!.AsArray().Where(p => (string?)p!["in"] == "query").Select(p => (string)p!["name"]!).ToHashSet();
        Assert.Superset(new HashSet<string> { "id", "idPattern", "type", "attrs", "q", "scopeQ", "georel", "geometry", "coordinates", "limit", "offset", "count", "options", "pick", "omit", "lang" }, names);
        var content = operation["responses"]!["200"]!["content"]!.AsObject();
        Assert.Equal(["application/json", "application/ld+json", "application/geo+json"], content.Select(c => c.Key));

        var merge = (await DocumentAsync())["paths"]![B + "/entities/{entityId}"]!["patch"]!;
        Assert.NotNull(merge["requestBody"]!["content"]!["application/merge-patch+json"]);
    }
}

[Collection(SharedSqliteServer.Name)]
public sealed class OpenApiTestsOnSqlite(SqliteServer server) : OpenApiTests(server);

[Collection(SharedPostgresServer.Name)]
public sealed class OpenApiTestsOnPostgres(PostgresServer server) : OpenApiTests(server);
