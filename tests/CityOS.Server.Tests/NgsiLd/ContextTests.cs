using System.Net;
using System.Text.Json.Nodes;

namespace CityOS.Server.Tests.NgsiLd;

public abstract class ContextTests(CityOSServer server)
{
    private readonly HttpClient _client = server.Client;

    private const string UserContext = """
        {"@context": {"Bus": "https://uri.fiware.org/ns/dataModels#Vehicle",
                      "fleet": "https://smartdatamodels.org/fleet",
                      "sdm": "https://smartdatamodels.org/"}}
        """;

    private async Task<string> HostAsync()
    {
        using var created = await _client.NgPostAsync("jsonldContexts", UserContext);
        await created.ExpectAsync(HttpStatusCode.Created);
        var location = created.Headers.Location!.ToString();
        return location.StartsWith("http", StringComparison.Ordinal) ? location : new Uri(server.BaseAddress, location).ToString();
    }

    [Fact]
    public async Task Hosted_context_is_listed_served_and_deleted()
    {
        var url = await HostAsync();
        var list = await (await _client.NgGetAsync("jsonldContexts")).JsonAsync();
        Assert.Contains(url, list.AsArray().Select(n => (string?)n));
        var served = await (await _client.NgGetAsync(new Uri(url).AbsolutePath)).JsonAsync();
        Assert.Equal("https://uri.fiware.org/ns/dataModels#Vehicle", (string?)served["@context"]!["Bus"]);
        await (await _client.NgDeleteAsync(new Uri(url).AbsolutePath)).ExpectAsync(HttpStatusCode.NoContent);
        await (await _client.NgGetAsync(new Uri(url).AbsolutePath)).ExpectAsync(HttpStatusCode.NotFound, "ResourceNotFound");
    }

    [Fact]
    public async Task Names_expand_with_the_link_context_and_compact_with_the_reader_context()
    {
        var url = await HostAsync();
        var id = Http.NewId("Bus");
        using var created = await _client.NgPostAsync("entities", $$"""{"id": "{{id}}", "type": "Bus", "fleet": {"type": "Property", "value": "B1"} }""", link: url);
        await created.ExpectAsync(HttpStatusCode.Created);

        var withContext = await (await _client.NgGetAsync("entities/" + id, link: url)).JsonAsync();
        Assert.Equal("Bus", (string?)withContext["type"]);
        Assert.Equal("B1", (string?)withContext["fleet"]!["value"]);

        var withCore = await (await _client.NgGetAsync("entities/" + id)).JsonAsync();
        Assert.Equal("https://uri.fiware.org/ns/dataModels#Vehicle", (string?)withCore["type"]);
        Assert.Equal("B1", (string?)withCore["https://smartdatamodels.org/fleet"]!["value"]);

        using var byType = await _client.NgGetAsync("entities?type=" + Uri.EscapeDataString("https://uri.fiware.org/ns/dataModels#Vehicle"));
        Assert.Contains(id, (await byType.JsonAsync()).AsArray().Select(e => (string?)e!["id"]));
    }

    [Fact]
    public async Task Unreachable_remote_context_is_LdContextNotAvailable()
    {
        using var response = await _client.NgPostAsync("entities", $$"""{"id": "{{Http.NewId()}}", "type": "T"}""", link: "http://127.0.0.1:9/nothing.jsonld");
        await response.ExpectAsync(HttpStatusCode.ServiceUnavailable, "LdContextNotAvailable");
    }

    [Fact]
    public async Task Core_context_urls_resolve_offline()
    {
        foreach (var version in new[] { "1.3", "1.4", "1.6", "1.8", "1.9" })
        {
            var id = Http.NewId();
            using var response = await _client.NgPostAsync("entities", $$"""{"id": "{{id}}", "type": "T", "@context": "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v{{version}}.jsonld"}""", contentType: "application/ld+json");
            await response.ExpectAsync(HttpStatusCode.Created);
        }
    }

    [Fact]
    public async Task Malformed_link_header_is_400()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/ngsi-ld/v1/entities?type=T");
        request.Headers.TryAddWithoutValidation("Link", "this is not a link");
        using var response = await _client.SendAsync(request);
        await response.ExpectAsync(HttpStatusCode.BadRequest, "BadRequestData");
    }
}

[Collection(SharedSqliteServer.Name)]
public sealed class ContextTestsOnSqlite(SqliteServer server) : ContextTests(server);

[Collection(SharedPostgresServer.Name)]
public sealed class ContextTestsOnPostgres(PostgresServer server) : ContextTests(server);
