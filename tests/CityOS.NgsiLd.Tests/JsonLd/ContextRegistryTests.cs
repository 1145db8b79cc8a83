using System.Text.Json.Nodes;
using CityOS.NgsiLd.Errors;
using CityOS.NgsiLd.JsonLd;

namespace CityOS.NgsiLd.Tests.JsonLd;

public sealed class ContextRegistryTests : IAsyncDisposable
{
    private const string Hosted = """{ "@context": { "Vehicle": "https://uri.fiware.org/ns/dataModels#Vehicle" }, "comment": "dropped" }""";

    private readonly ContextServer _server = new();

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    private static async Task<ErrorType> ErrorOfAsync(Func<Task> action) =>
        (await Assert.ThrowsAsync<NgsiLdException>(action)).Type;

    [Fact]
    public async Task Adding_a_hosted_context_persists_it_and_serves_only_its_context_member()
    {
        var clock = new ManualTimeProvider();
        using var stack = new ContextStack(new NoNetworkHandler(), timeProvider: clock);

        var entry = await stack.Registry.AddHostedAsync(JsonNode.Parse(Hosted), CancellationToken.None);

        Assert.Equal(ContextKind.Hosted, entry.Kind);
        Assert.Equal("http://broker.test:1026/ngsi-ld/v1/jsonldContexts/" + entry.LocalId, entry.Url);
        Assert.Equal(clock.Now, entry.CreatedAt);
        var content = stack.Registry.GetContent(entry.LocalId);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{ "@context": { "Vehicle": "https://uri.fiware.org/ns/dataModels#Vehicle" } }"""), content));
        var stored = Assert.Single(stack.Store.Documents.Values);
        Assert.Equal(entry.LocalId, stored.Id);
        Assert.Equal("Hosted", stored.Kind);
        Assert.True(JsonNode.DeepEquals(content, JsonNode.Parse(stored.Body)));
    }

    [Theory]
    [InlineData("""[{ "@context": {} }]""")]
    [InlineData("""{ "Vehicle": "https://uri.fiware.org/ns/dataModels#Vehicle" }""")]
    [InlineData("""{ "@context": 42 }""")]
    [InlineData("""{ "@context": "not a url" }""")]
    [InlineData("""{ "@context": { "address": { "@id": "https://schema.org/address", "@context": {} } } }""")]
    [InlineData("""{ "@context": { "P": 42 } }""")]
    public async Task Invalid_hosted_bodies_are_bad_request_data(string body)
    {
        using var stack = new ContextStack(new NoNetworkHandler());
        Assert.Equal(ErrorType.BadRequestData, await ErrorOfAsync(() => stack.Registry.AddHostedAsync(JsonNode.Parse(body), CancellationToken.None)));
        Assert.Empty(stack.Store.Documents);
    }

    [Fact]
    public async Task A_hosted_context_may_be_an_array_of_urls_and_objects()
    {
        using var stack = new ContextStack(new NoNetworkHandler());
        var entry = await stack.Registry.AddHostedAsync(JsonNode.Parse("""
            { "@context": ["https://example.org/other.jsonld", { "Vehicle": "https://example.org/Vehicle" }, "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"] }
            """), CancellationToken.None);
        Assert.Equal(3, stack.Registry.GetContent(entry.LocalId)["@context"]!.AsArray().Count);
    }

    [Fact]
    public async Task Listing_filters_by_kind_and_gives_details()
    {
        _server.Serve("/vehicle.jsonld", """{ "@context": { "Vehicle": "https://example.org/Vehicle" } }""", cacheControl: "max-age=3600");
        var clock = new ManualTimeProvider();
        using var stack = new ContextStack(timeProvider: clock);
        var hosted = await stack.Registry.AddHostedAsync(JsonNode.Parse(Hosted), CancellationToken.None);
        clock.Advance(TimeSpan.FromSeconds(1));
        var implicitEntry = await stack.Registry.AddImplicitAsync(JsonNode.Parse("""["https://example.org/a.jsonld", "https://example.org/b.jsonld"]""")!, CancellationToken.None);
        clock.Advance(TimeSpan.FromSeconds(1));
        await stack.Resolver.ResolveAsync(JsonValue.Create(_server.Url("/vehicle.jsonld")), CancellationToken.None);

        Assert.Equal([hosted.Url, implicitEntry.Url, _server.Url("/vehicle.jsonld")], stack.Registry.List().Select(e => e.Url));
        Assert.Equal([hosted.Url], stack.Registry.List(ContextKind.Hosted).Select(e => e.Url));
        Assert.Equal([implicitEntry.Url], stack.Registry.List(ContextKind.ImplicitlyCreated).Select(e => e.Url));

        var urls = stack.Registry.ListJson(ContextKind.Cached, details: false);
        Assert.Equal(_server.Url("/vehicle.jsonld"), Assert.Single(urls)!.GetValue<string>());

        var details = Assert.Single(stack.Registry.ListJson(ContextKind.Cached, details: true))!.AsObject();
        Assert.Equal(_server.Url("/vehicle.jsonld"), details["URL"]!.GetValue<string>());
        Assert.Equal("Cached", details["kind"]!.GetValue<string>());
        Assert.Equal("2026-11-23T10:00:02.000000Z", details["createdAt"]!.GetValue<string>());
        Assert.Equal("2026-11-23T11:00:02.000000Z", details["expiresAt"]!.GetValue<string>());
        Assert.Equal("2026-11-23T10:00:02.000000Z", details["lastUsage"]!.GetValue<string>());
        Assert.Equal(1, details["numberOfHits"]!.GetValue<long>());
        Assert.False(string.IsNullOrEmpty(details["localId"]!.GetValue<string>()));

        var hostedDetails = stack.Registry.Get(hosted.LocalId).ToDetails();
        Assert.False(hostedDetails.ContainsKey("expiresAt"));
        Assert.False(hostedDetails.ContainsKey("lastUsage"));
    }

    [Fact]
    public async Task Implicit_contexts_with_the_same_content_are_made_once()
    {
        using var stack = new ContextStack(new NoNetworkHandler());
        var value = JsonNode.Parse("""["https://example.org/a.jsonld", { "X": "https://example.org/X" }]""")!;

        var first = await stack.Registry.AddImplicitAsync(value, CancellationToken.None);
        var second = await stack.Registry.AddImplicitAsync(value.DeepClone(), CancellationToken.None);

        Assert.Same(first, second);
        Assert.Equal("ImplicitlyCreated", Assert.Single(stack.Store.Documents.Values).Kind);
        Assert.True(JsonNode.DeepEquals(value, stack.Registry.GetContent(first.LocalId)["@context"]));
    }

    [Fact]
    public async Task A_cached_context_is_listed_but_its_content_is_not_served()
    {
        _server.Serve("/vehicle.jsonld", """{ "@context": { "Vehicle": "https://example.org/Vehicle" } }""");
        using var stack = new ContextStack();
        await stack.Resolver.ResolveAsync(JsonValue.Create(_server.Url("/vehicle.jsonld")), CancellationToken.None);
        var cached = Assert.Single(stack.Registry.List(ContextKind.Cached));

        Assert.Equal(ErrorType.OperationNotSupported, Assert.Throws<NgsiLdException>(() => stack.Registry.GetContent(cached.LocalId)).Type);
        Assert.Equal(cached.Url, stack.Registry.Get(cached.LocalId).ToDetails()["URL"]!.GetValue<string>());
        Assert.Empty(stack.Store.Documents);
    }

    [Fact]
    public async Task Unknown_ids_are_resource_not_found()
    {
        using var stack = new ContextStack(new NoNetworkHandler());
        Assert.Equal(ErrorType.ResourceNotFound, Assert.Throws<NgsiLdException>(() => stack.Registry.Get("nope")).Type);
        Assert.Equal(ErrorType.ResourceNotFound, Assert.Throws<NgsiLdException>(() => stack.Registry.GetContent("nope")).Type);
        Assert.Equal(ErrorType.ResourceNotFound, await ErrorOfAsync(() => stack.Registry.DeleteAsync("nope", CancellationToken.None)));
        Assert.Equal(ErrorType.ResourceNotFound, await ErrorOfAsync(() => stack.Registry.ReloadAsync("nope", CancellationToken.None)));
    }

    [Fact]
    public async Task Deleting_a_hosted_context_removes_it_from_the_store()
    {
        using var stack = new ContextStack(new NoNetworkHandler());
        var keep = await stack.Registry.AddHostedAsync(JsonNode.Parse(Hosted), CancellationToken.None);
        var drop = await stack.Registry.AddHostedAsync(JsonNode.Parse(Hosted), CancellationToken.None);

        await stack.Registry.DeleteAsync(drop.LocalId, CancellationToken.None);

        Assert.Equal([keep.LocalId], stack.Registry.List().Select(e => e.LocalId));
        Assert.Equal([keep.LocalId], stack.Store.Documents.Keys);
        Assert.Equal(ErrorType.ResourceNotFound, Assert.Throws<NgsiLdException>(() => stack.Registry.Get(drop.LocalId)).Type);
    }

    [Fact]
    public async Task Deleting_a_cached_context_makes_the_next_request_download_it_again()
    {
        _server.Serve("/vehicle.jsonld", """{ "@context": { "Vehicle": "https://example.org/Vehicle" } }""");
        using var stack = new ContextStack();
        var url = JsonValue.Create(_server.Url("/vehicle.jsonld"));
        await stack.Resolver.ResolveAsync(url, CancellationToken.None);

        await stack.Registry.DeleteAsync(Assert.Single(stack.Registry.List()).LocalId, CancellationToken.None);
        Assert.Empty(stack.Registry.List());
        await stack.Resolver.ResolveAsync(url, CancellationToken.None);

        Assert.Equal(2, _server.Hits("/vehicle.jsonld"));
        Assert.Single(stack.Registry.List(ContextKind.Cached));
    }

    [Fact]
    public async Task Reloading_a_cached_context_downloads_it_again_and_resolution_follows()
    {
        _server.Serve("/vehicle.jsonld", """{ "@context": { "Vehicle": "https://example.org/Vehicle" } }""");
        using var stack = new ContextStack();
        var url = JsonValue.Create(_server.Url("/vehicle.jsonld"));
        await stack.Resolver.ResolveAsync(url, CancellationToken.None);
        var cached = Assert.Single(stack.Registry.List());

        _server.Serve("/vehicle.jsonld", """{ "@context": { "Vehicle": "https://example.org/Car" } }""");
        var reloaded = await stack.Registry.ReloadAsync(cached.LocalId, CancellationToken.None);
        var context = await stack.Resolver.ResolveAsync(url, CancellationToken.None);

        Assert.Equal(cached.LocalId, reloaded.LocalId);
        Assert.Equal(cached.CreatedAt, reloaded.CreatedAt);
        Assert.Equal("https://example.org/Car", context.ExpandTerm("Vehicle"));
        Assert.Equal(2, _server.Hits("/vehicle.jsonld"));
    }

    [Fact]
    public async Task A_failed_reload_keeps_the_old_copy()
    {
        _server.Serve("/vehicle.jsonld", """{ "@context": { "Vehicle": "https://example.org/Vehicle" } }""");
        using var stack = new ContextStack();
        var url = JsonValue.Create(_server.Url("/vehicle.jsonld"));
        await stack.Resolver.ResolveAsync(url, CancellationToken.None);
        var cached = Assert.Single(stack.Registry.List());

        _server.Serve("/vehicle.jsonld", "gone", "text/plain", status: 500);
        Assert.Equal(ErrorType.LdContextNotAvailable, await ErrorOfAsync(() => stack.Registry.ReloadAsync(cached.LocalId, CancellationToken.None)));

        Assert.Same(cached, stack.Registry.Get(cached.LocalId));
        var context = await stack.Resolver.ResolveAsync(url, CancellationToken.None);
        Assert.Equal("https://example.org/Vehicle", context.ExpandTerm("Vehicle"));
    }

    [Fact]
    public async Task Only_cached_contexts_can_be_reloaded()
    {
        using var stack = new ContextStack(new NoNetworkHandler());
        var hosted = await stack.Registry.AddHostedAsync(JsonNode.Parse(Hosted), CancellationToken.None);
        Assert.Equal(ErrorType.BadRequestData, await ErrorOfAsync(() => stack.Registry.ReloadAsync(hosted.LocalId, CancellationToken.None)));
    }

    [Fact]
    public async Task Hosted_contexts_survive_a_restart_through_the_store()
    {
        var store = new InMemoryHostedContextStore();
        string localId;
        using (var before = new ContextStack(new NoNetworkHandler(), store: store))
        {
            localId = (await before.Registry.AddHostedAsync(JsonNode.Parse(Hosted), CancellationToken.None)).LocalId;
        }

        using var after = new ContextStack(new NoNetworkHandler(), store: store);
        await after.Registry.LoadAsync(CancellationToken.None);

        var entry = after.Registry.Get(localId);
        Assert.Equal(ContextKind.Hosted, entry.Kind);
        var context = await after.Resolver.ResolveAsync(JsonValue.Create(entry.Url), CancellationToken.None);
        Assert.Equal("https://uri.fiware.org/ns/dataModels#Vehicle", context.ExpandTerm("Vehicle"));
    }

    [Fact]
    public async Task The_document_cache_is_bounded_and_evicts_the_least_recently_used()
    {
        for (var i = 0; i < 3; i++)
        {
            _server.Serve($"/c{i}.jsonld", $$"""{ "@context": { "T{{i}}": "https://example.org/T{{i}}" } }""");
        }

        using var stack = new ContextStack(configure: o => o.DocumentCacheCapacity = 2);
        foreach (var i in new[] { 0, 1, 0, 2 })
        {
            await stack.Registry.GetDocumentAsync(_server.Url($"/c{i}.jsonld"), CancellationToken.None);
        }

        Assert.Equal([_server.Url("/c0.jsonld"), _server.Url("/c2.jsonld")], stack.Registry.List(ContextKind.Cached).Select(e => e.Url).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("Hosted", ContextKind.Hosted)]
    [InlineData("Cached", ContextKind.Cached)]
    [InlineData("ImplicitlyCreated", ContextKind.ImplicitlyCreated)]
    public void Kind_names_parse(string value, ContextKind expected)
    {
        Assert.True(ContextRegistry.TryParseKind(value, out var kind));
        Assert.Equal(expected, kind);
    }

    [Theory]
    [InlineData("hosted")]
    [InlineData("")]
    [InlineData(null)]
    public void Unknown_kind_names_do_not_parse(string? value) =>
        Assert.False(ContextRegistry.TryParseKind(value, out _));
}
