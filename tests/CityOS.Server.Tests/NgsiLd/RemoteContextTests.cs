using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace CityOS.Server.Tests.NgsiLd;

/// <summary>
/// User @contexts fetched from a real HTTP host (a small Kestrel app on loopback serving files, as a git
/// forge or a city's web server would): FACTS §7 Cached kind and §11.10 text/plain contexts.
/// </summary>
public abstract class RemoteContextTests(CityOSServer server) : IAsyncLifetime
{
    private readonly HttpClient _client = server.Client;
    private readonly string _tenant = "rc" + Guid.NewGuid().ToString("N")[..12];
    private WebApplication _host = null!;
    private string _hostUrl = "";
    private string _body = """{"@context": {"Kiosk": "https://example.org/v1#Kiosk"}}""";

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        _host = builder.Build();
        // Raw files on git forges are served as text/plain.
        _host.MapGet("/raw/{name}", (string name) => Results.Text(_body, "text/plain; charset=utf-8"));
        await _host.StartAsync();
        _hostUrl = _host.Urls.First();
    }

    public async Task DisposeAsync()
    {
        await _host.StopAsync();
        await _host.DisposeAsync();
    }

    [Fact]
    public async Task Text_plain_context_is_used_then_listed_as_cached_reloaded_and_not_served()
    {
        var context = $"{_hostUrl}/raw/{Guid.NewGuid():N}.jsonld";
        var id = Http.NewId();
        using var created = await _client.NgPostAsync("entities", $$$"""{"id": "{{{id}}}", "type": "Kiosk"}""", _tenant, context);
        await created.ExpectAsync(HttpStatusCode.Created);
        using var read = await _client.NgGetAsync($"entities/{id}", _tenant);
        Assert.Equal("https://example.org/v1#Kiosk", (string?)(await read.JsonAsync())["type"]);

        using var list = await _client.NgGetAsync("jsonldContexts?details=true&kind=Cached");
        await list.ExpectAsync(HttpStatusCode.OK);
        var entry = (await list.JsonAsync()).AsArray().Single(e => (string?)e!["URL"] == context)!;
        Assert.Equal("Cached", (string?)entry["kind"]);
        var localId = (string)entry["localId"]!;

        using var served = await _client.NgGetAsync($"jsonldContexts/{localId}");
        await served.ExpectAsync(HttpStatusCode.UnprocessableEntity, "OperationNotSupported");
        using var details = await _client.NgGetAsync($"jsonldContexts/{localId}?details=true");
        await details.ExpectAsync(HttpStatusCode.OK);

        // The host changes the document; reload fetches it again, and new requests expand with it.
        _body = """{"@context": {"Kiosk": "https://example.org/v2#Kiosk"}}""";
        using var reload = await _client.NgDeleteAsync($"jsonldContexts/{localId}?reload=true");
        await reload.ExpectAsync(HttpStatusCode.NoContent);
        using var typed = await _client.NgGetAsync($"entities?type=Kiosk", _tenant, context);
        await typed.ExpectAsync(HttpStatusCode.OK);
        Assert.Empty((await typed.JsonAsync()).AsArray());
    }

    [Fact]
    public async Task Unreachable_context_host_is_503_LdContextNotAvailable_and_nothing_is_written()
    {
        var context = $"{_hostUrl}/missing-route/ctx.jsonld";
        var id = Http.NewId();
        using var created = await _client.NgPostAsync("entities", $$$"""{"id": "{{{id}}}", "type": "Kiosk"}""", _tenant, context);
        await created.ExpectAsync(HttpStatusCode.ServiceUnavailable, "LdContextNotAvailable");
        using var read = await _client.NgGetAsync($"entities/{id}", _tenant);
        Assert.NotEqual(HttpStatusCode.OK, read.StatusCode);
    }
}

[Collection(SharedSqliteServer.Name)]
public sealed class RemoteContextTestsOnSqlite(SqliteServer server) : RemoteContextTests(server);

[Collection(SharedPostgresServer.Name)]
public sealed class RemoteContextTestsOnPostgres(PostgresServer server) : RemoteContextTests(server);
