using System.Text.Json.Nodes;
using CityOS.NgsiLd.Errors;
using CityOS.NgsiLd.JsonLd;

namespace CityOS.NgsiLd.Tests.JsonLd;

public sealed class ContextResolverTests : IAsyncDisposable
{
    private const string Default = "https://uri.etsi.org/ngsi-ld/default-context/";
    private const string Fiware = "https://uri.fiware.org/ns/dataModels#";

    private const string VehicleContext = $$"""
        {
          "@context": {
            "Vehicle": "{{Fiware}}Vehicle",
            "speed": "{{Fiware}}speed",
            "schema": "https://schema.org/"
          }
        }
        """;

    private readonly ContextServer _server = new();

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    private static async Task<NgsiLdException> FailsAsync(ContextStack stack, JsonNode? context) =>
        await Assert.ThrowsAsync<NgsiLdException>(async () => await stack.Resolver.ResolveAsync(context, CancellationToken.None));

    [Fact]
    public async Task A_remote_context_is_downloaded_and_its_terms_used()
    {
        _server.Serve("/vehicle.jsonld", VehicleContext);
        using var stack = new ContextStack();
        var url = _server.Url("/vehicle.jsonld");

        var context = await stack.Resolver.ResolveAsync(JsonValue.Create(url), CancellationToken.None);

        Assert.Equal(Fiware + "Vehicle", context.ExpandTerm("Vehicle"));
        Assert.Equal("https://schema.org/name", context.ExpandTerm("schema:name"));
        Assert.Equal(Default + "fuel", context.ExpandTerm("fuel"));
        Assert.Equal("https://uri.etsi.org/ngsi-ld/location", context.ExpandTerm("location"));
        Assert.Equal([url, "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"], context.Urls);
        Assert.Equal(url, context.ContextNode.GetValue<string>());
    }

    [Theory]
    [InlineData("text/plain; charset=utf-8")]
    [InlineData("application/json")]
    [InlineData("application/octet-stream")]
    public async Task Contexts_served_as_plain_text_or_json_are_accepted(string contentType)
    {
        // Raw files on git forges come as text/plain (FACTS §11 #10).
        _server.Serve("/raw.jsonld", VehicleContext, contentType);
        using var stack = new ContextStack();

        var context = await stack.Resolver.ResolveAsync(JsonValue.Create(_server.Url("/raw.jsonld")), CancellationToken.None);

        Assert.Equal(Fiware + "speed", context.ExpandTerm("speed"));
    }

    [Fact]
    public async Task A_context_file_with_a_byte_order_mark_is_accepted()
    {
        _server.Serve("/bom.jsonld", "\uFEFF" + VehicleContext, "text/plain; charset=utf-8");
        using var stack = new ContextStack();

        var context = await stack.Resolver.ResolveAsync(JsonValue.Create(_server.Url("/bom.jsonld")), CancellationToken.None);

        Assert.Equal(Fiware + "speed", context.ExpandTerm("speed"));
    }

    [Fact]
    public async Task A_404_is_ld_context_not_available()
    {
        using var stack = new ContextStack();
        var error = await FailsAsync(stack, JsonValue.Create(_server.Url("/missing.jsonld")));
        Assert.Equal(ErrorType.LdContextNotAvailable, error.Type);
        Assert.Contains("404", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_slow_server_times_out_as_ld_context_not_available()
    {
        _server.Serve("/slow.jsonld", VehicleContext, delay: TimeSpan.FromSeconds(5));
        using var stack = new ContextStack(configure: o => o.FetchTimeout = TimeSpan.FromMilliseconds(300));

        var started = DateTime.UtcNow;
        var error = await FailsAsync(stack, JsonValue.Create(_server.Url("/slow.jsonld")));

        Assert.Equal(ErrorType.LdContextNotAvailable, error.Type);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(4), "the timeout did not cut the download short");
    }

    [Fact]
    public async Task A_caller_cancellation_is_not_reported_as_a_context_failure()
    {
        _server.Serve("/slow.jsonld", VehicleContext, delay: TimeSpan.FromSeconds(5));
        using var stack = new ContextStack();
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            await stack.Resolver.ResolveAsync(JsonValue.Create(_server.Url("/slow.jsonld")), cancel.Token));
    }

    [Fact]
    public async Task A_failed_download_whose_waiters_all_gave_up_does_not_answer_the_next_request()
    {
        _server.Serve("/flaky.jsonld", "busy", "text/plain", status: 503, delay: TimeSpan.FromMilliseconds(400));
        using var stack = new ContextStack();
        var url = JsonValue.Create(_server.Url("/flaky.jsonld"));
        using (var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(100)))
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await stack.Resolver.ResolveAsync(url, cancel.Token));
        }

        // Let the abandoned download receive its 503 and finish before the next request comes.
        await _server.WaitForAnswersAsync("/flaky.jsonld", 1);
        await Task.Delay(TimeSpan.FromMilliseconds(500));
        _server.Serve("/flaky.jsonld", VehicleContext);
        var context = await stack.Resolver.ResolveAsync(url, CancellationToken.None);

        Assert.Equal(Fiware + "Vehicle", context.ExpandTerm("Vehicle"));
        Assert.Equal(2, _server.Hits("/flaky.jsonld"));
    }

    [Theory]
    [InlineData("not json at all", "text/plain")]
    [InlineData("<html><body>Vehicle</body></html>", "text/html")]
    [InlineData("""{ "Vehicle": "https://example.org/Vehicle" }""", "application/json")]
    [InlineData("""[{ "@context": {} }]""", "application/json")]
    public async Task Documents_that_are_not_json_ld_contexts_are_not_available(string body, string contentType)
    {
        _server.Serve("/bad.jsonld", body, contentType);
        using var stack = new ContextStack();
        var error = await FailsAsync(stack, JsonValue.Create(_server.Url("/bad.jsonld")));
        Assert.Equal(ErrorType.LdContextNotAvailable, error.Type);
    }

    [Fact]
    public async Task A_server_error_is_not_available()
    {
        _server.Serve("/error.jsonld", VehicleContext, status: 500);
        using var stack = new ContextStack();
        Assert.Equal(ErrorType.LdContextNotAvailable, (await FailsAsync(stack, JsonValue.Create(_server.Url("/error.jsonld")))).Type);
    }

    [Fact]
    public async Task A_document_above_the_size_cap_is_not_available()
    {
        var big = "{\"@context\": {" + string.Join(',', Enumerable.Range(0, 2000).Select(i => $"\"t{i}\": \"https://example.org/t{i}\"")) + "}}";
        _server.Serve("/big.jsonld", big);
        using var stack = new ContextStack(configure: o => o.MaxDocumentBytes = 10_000);
        Assert.Equal(ErrorType.LdContextNotAvailable, (await FailsAsync(stack, JsonValue.Create(_server.Url("/big.jsonld")))).Type);
    }

    [Fact]
    public async Task A_repeated_context_is_downloaded_once()
    {
        _server.Serve("/vehicle.jsonld", VehicleContext);
        using var stack = new ContextStack();
        var url = _server.Url("/vehicle.jsonld");

        var first = await stack.Resolver.ResolveAsync(JsonValue.Create(url), CancellationToken.None);
        var second = await stack.Resolver.ResolveAsync(JsonValue.Create(url), CancellationToken.None);
        var withCore = await stack.Resolver.ResolveAsync(
            new JsonArray(url, "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"), CancellationToken.None);

        Assert.Same(first, second);
        Assert.Equal(Fiware + "Vehicle", withCore.ExpandTerm("Vehicle"));
        Assert.Equal(1, _server.Hits("/vehicle.jsonld"));
    }

    [Fact]
    public async Task Concurrent_requests_for_a_new_context_share_one_download()
    {
        _server.Serve("/vehicle.jsonld", VehicleContext, delay: TimeSpan.FromMilliseconds(300));
        using var stack = new ContextStack();
        var url = _server.Url("/vehicle.jsonld");

        var contexts = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
            stack.Resolver.ResolveAsync(i % 2 == 0 ? JsonValue.Create(url) : new JsonArray(url, new JsonObject()), CancellationToken.None).AsTask()));

        Assert.All(contexts, c => Assert.Equal(Fiware + "Vehicle", c.ExpandTerm("Vehicle")));
        Assert.Equal(1, _server.Hits("/vehicle.jsonld"));
    }

    [Fact]
    public async Task A_stale_document_is_downloaded_again_after_it_expires()
    {
        _server.Serve("/vehicle.jsonld", VehicleContext, cacheControl: "max-age=600");
        var clock = new ManualTimeProvider();
        using var stack = new ContextStack(timeProvider: clock);
        var url = JsonValue.Create(_server.Url("/vehicle.jsonld"));

        await stack.Resolver.ResolveAsync(url, CancellationToken.None);
        clock.Advance(TimeSpan.FromMinutes(9));
        await stack.Resolver.ResolveAsync(url, CancellationToken.None);
        Assert.Equal(1, _server.Hits("/vehicle.jsonld"));

        _server.Serve("/vehicle.jsonld", VehicleContext.Replace(Fiware + "Vehicle", "https://example.org/Car", StringComparison.Ordinal));
        clock.Advance(TimeSpan.FromMinutes(2));
        var refreshed = await stack.Resolver.ResolveAsync(url, CancellationToken.None);

        Assert.Equal(2, _server.Hits("/vehicle.jsonld"));
        Assert.Equal("https://example.org/Car", refreshed.ExpandTerm("Vehicle"));
    }

    [Fact]
    public async Task A_stale_copy_is_kept_when_the_host_is_down()
    {
        _server.Serve("/vehicle.jsonld", VehicleContext);
        var clock = new ManualTimeProvider();
        using var stack = new ContextStack(timeProvider: clock);
        var url = JsonValue.Create(_server.Url("/vehicle.jsonld"));
        await stack.Resolver.ResolveAsync(url, CancellationToken.None);

        _server.Serve("/vehicle.jsonld", "down", "text/plain", status: 503);
        clock.Advance(TimeSpan.FromHours(2));
        var context = await stack.Resolver.ResolveAsync(url, CancellationToken.None);
        await stack.Resolver.ResolveAsync(url, CancellationToken.None);

        Assert.Equal(Fiware + "Vehicle", context.ExpandTerm("Vehicle"));
        Assert.Equal(2, _server.Hits("/vehicle.jsonld"));
    }

    [Fact]
    public async Task Remote_contexts_may_reference_further_remote_contexts_relatively()
    {
        _server.Serve("/models/vehicle.jsonld", VehicleContext);
        _server.Serve("/models/all.jsonld", """
            {
              "@context": [
                "vehicle.jsonld",
                "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.3.jsonld",
                { "Parking": "https://example.org/Parking" }
              ]
            }
            """);
        using var stack = new ContextStack();

        var context = await stack.Resolver.ResolveAsync(JsonValue.Create(_server.Url("/models/all.jsonld")), CancellationToken.None);

        Assert.Equal(Fiware + "Vehicle", context.ExpandTerm("Vehicle"));
        Assert.Equal("https://example.org/Parking", context.ExpandTerm("Parking"));
        Assert.Equal(Default + "attributeCount", context.ExpandTerm("attributeCount"));
        Assert.Equal(1, _server.Hits("/models/vehicle.jsonld"));
    }

    [Fact]
    public async Task A_cycle_between_remote_contexts_is_bad_request_data()
    {
        _server.Serve("/a.jsonld", $$"""{ "@context": ["{{_server.Url("/b.jsonld")}}", { "A": "https://example.org/A" }] }""");
        _server.Serve("/b.jsonld", """{ "@context": ["a.jsonld"] }""");
        using var stack = new ContextStack();

        var error = await FailsAsync(stack, JsonValue.Create(_server.Url("/a.jsonld")));

        Assert.Equal(ErrorType.BadRequestData, error.Type);
        Assert.Contains("recursive", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_same_remote_context_twice_without_a_cycle_is_fine()
    {
        _server.Serve("/vehicle.jsonld", VehicleContext);
        _server.Serve("/both.jsonld", """{ "@context": ["vehicle.jsonld", "vehicle.jsonld"] }""");
        using var stack = new ContextStack();

        var context = await stack.Resolver.ResolveAsync(JsonValue.Create(_server.Url("/both.jsonld")), CancellationToken.None);

        Assert.Equal(Fiware + "Vehicle", context.ExpandTerm("Vehicle"));
    }

    [Fact]
    public async Task Nesting_deeper_than_the_limit_is_bad_request_data()
    {
        for (var i = 0; i < 4; i++)
        {
            _server.Serve($"/n{i}.jsonld", $$"""{ "@context": "n{{i + 1}}.jsonld" }""");
        }

        _server.Serve("/n4.jsonld", VehicleContext);
        using var shallow = new ContextStack(configure: o => o.MaxNestingDepth = 2);
        using var deep = new ContextStack(configure: o => o.MaxNestingDepth = 4);

        Assert.Equal(ErrorType.BadRequestData, (await FailsAsync(shallow, JsonValue.Create(_server.Url("/n0.jsonld")))).Type);
        var context = await deep.Resolver.ResolveAsync(JsonValue.Create(_server.Url("/n0.jsonld")), CancellationToken.None);
        Assert.Equal(Fiware + "Vehicle", context.ExpandTerm("Vehicle"));
    }

    [Fact]
    public async Task A_scoped_context_in_a_remote_document_is_bad_request_data()
    {
        _server.Serve("/scoped.jsonld", """{ "@context": { "address": { "@id": "https://schema.org/address", "@context": { "street": "https://schema.org/street" } } } }""");
        using var stack = new ContextStack();
        Assert.Equal(ErrorType.BadRequestData, (await FailsAsync(stack, JsonValue.Create(_server.Url("/scoped.jsonld")))).Type);
    }

    [Theory]
    [InlineData("https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.3.jsonld")]
    [InlineData("https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.4.jsonld")]
    [InlineData("https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.5.jsonld")]
    [InlineData("https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.7.jsonld")]
    [InlineData("https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld")]
    [InlineData("https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld")]
    public async Task Core_context_urls_resolve_without_network(string url)
    {
        var network = new NoNetworkHandler();
        using var stack = new ContextStack(network);

        var context = await stack.Resolver.ResolveAsync(JsonValue.Create(url), CancellationToken.None);
        var inArray = await stack.Resolver.ResolveAsync(JsonNode.Parse($$"""[{ "Vehicle": "{{Fiware}}Vehicle" }, "{{url}}"]"""), CancellationToken.None);

        Assert.Equal("https://uri.etsi.org/ngsi-ld/observedAt", context.ExpandTerm("observedAt"));
        Assert.Equal(Fiware + "Vehicle", inArray.ExpandTerm("Vehicle"));
        Assert.Equal([url], context.Urls);
        Assert.Equal(0, network.Calls);
    }

    [Fact]
    public async Task No_context_is_the_core_context()
    {
        using var stack = new ContextStack(new NoNetworkHandler());
        Assert.Same(LdContext.Core, await stack.Resolver.ResolveAsync(null, CancellationToken.None));
    }

    [Fact]
    public async Task Inline_contexts_resolve_and_are_cached_by_value()
    {
        using var stack = new ContextStack(new NoNetworkHandler());
        var inline = JsonNode.Parse($$"""{ "Vehicle": "{{Fiware}}Vehicle" }""");

        var first = await stack.Resolver.ResolveAsync(inline, CancellationToken.None);
        var second = await stack.Resolver.ResolveAsync(inline!.DeepClone(), CancellationToken.None);

        Assert.Same(first, second);
        Assert.Equal(Fiware + "Vehicle", first.ExpandTerm("Vehicle"));
    }

    [Theory]
    [InlineData("\"relative/context.jsonld\"")]
    [InlineData("\"/etc/passwd\"")]
    [InlineData("42")]
    [InlineData("true")]
    [InlineData("[[\"https://example.org/c.jsonld\"]]")]
    public async Task Invalid_context_values_are_bad_request_data(string json)
    {
        using var stack = new ContextStack(new NoNetworkHandler());
        Assert.Equal(ErrorType.BadRequestData, (await FailsAsync(stack, JsonNode.Parse(json))).Type);
    }

    [Fact]
    public async Task A_hosted_context_resolves_by_its_local_url_without_http()
    {
        var network = new NoNetworkHandler();
        using var stack = new ContextStack(network);
        var entry = await stack.Registry.AddHostedAsync(JsonNode.Parse(VehicleContext), CancellationToken.None);

        var context = await stack.Resolver.ResolveAsync(JsonValue.Create(entry.Url), CancellationToken.None);

        Assert.StartsWith("http://broker.test:1026/ngsi-ld/v1/jsonldContexts/", entry.Url, StringComparison.Ordinal);
        Assert.Equal(Fiware + "Vehicle", context.ExpandTerm("Vehicle"));
        Assert.Equal(0, network.Calls);
        Assert.Equal(1, stack.Registry.Get(entry.LocalId).NumberOfHits);
    }

    [Fact]
    public async Task Cached_resolutions_still_count_hits()
    {
        using var stack = new ContextStack(new NoNetworkHandler());
        var entry = await stack.Registry.AddHostedAsync(JsonNode.Parse(VehicleContext), CancellationToken.None);

        for (var i = 0; i < 3; i++)
        {
            await stack.Resolver.ResolveAsync(JsonValue.Create(entry.Url), CancellationToken.None);
        }

        Assert.Equal(3, stack.Registry.Get(entry.LocalId).NumberOfHits);
        Assert.NotNull(stack.Registry.Get(entry.LocalId).LastUsage);
    }

    [Fact]
    public async Task A_deleted_hosted_context_is_no_longer_available()
    {
        using var stack = new ContextStack(new NoNetworkHandler());
        var entry = await stack.Registry.AddHostedAsync(JsonNode.Parse(VehicleContext), CancellationToken.None);
        await stack.Resolver.ResolveAsync(JsonValue.Create(entry.Url), CancellationToken.None);

        await stack.Registry.DeleteAsync(entry.LocalId, CancellationToken.None);

        Assert.Equal(ErrorType.LdContextNotAvailable, (await FailsAsync(stack, JsonValue.Create(entry.Url))).Type);
    }
}
