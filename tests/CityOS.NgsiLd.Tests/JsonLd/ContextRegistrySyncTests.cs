using System.Text.Json.Nodes;
using CityOS.NgsiLd.Errors;
using CityOS.NgsiLd.JsonLd;

namespace CityOS.NgsiLd.Tests.JsonLd;

/// <summary>Two nodes' registries over one store, following each other's changes as cluster events tell them.</summary>
public sealed class ContextRegistrySyncTests : IDisposable
{
    private readonly InMemoryHostedContextStore _database = new();
    private readonly ContextStack _a;
    private readonly ContextStack _b;

    public ContextRegistrySyncTests()
    {
        _a = new ContextStack(new NoNetworkHandler(), store: _database);
        _b = new ContextStack(new NoNetworkHandler(), store: _database);
    }

    public void Dispose()
    {
        _a.Dispose();
        _b.Dispose();
    }

    [Fact]
    public async Task Refresh_serves_a_context_added_elsewhere_and_drops_one_deleted_elsewhere_from_resolution()
    {
        var entry = await _a.Registry.AddHostedAsync(JsonNode.Parse("""{ "@context": { "Bus": "https://example.org/Bus" } }"""), CancellationToken.None);
        Assert.Equal(ErrorType.ResourceNotFound, Assert.Throws<NgsiLdException>(() => _b.Registry.Get(entry.LocalId)).Type);

        await _b.Registry.RefreshAsync(entry.LocalId, CancellationToken.None);
        var resolved = await _b.Resolver.ResolveAsync(JsonValue.Create(entry.Url), CancellationToken.None);
        Assert.Equal("https://example.org/Bus", resolved.ExpandTerm("Bus"));

        await _a.Registry.DeleteAsync(entry.LocalId, CancellationToken.None);
        var generation = _b.Registry.Generation;
        await _b.Registry.RefreshAsync(entry.LocalId, CancellationToken.None);

        Assert.NotEqual(generation, _b.Registry.Generation);
        Assert.Equal(ErrorType.ResourceNotFound, Assert.Throws<NgsiLdException>(() => _b.Registry.Get(entry.LocalId)).Type);
        var gone = await Assert.ThrowsAsync<NgsiLdException>(async () => await _b.Resolver.ResolveAsync(JsonValue.Create(entry.Url), CancellationToken.None));
        Assert.Equal(ErrorType.LdContextNotAvailable, gone.Type);
    }

    [Fact]
    public async Task Synchronize_makes_the_served_contexts_match_the_store()
    {
        var kept = await _a.Registry.AddHostedAsync(JsonNode.Parse("""{ "@context": { "Tram": "https://example.org/Tram" } }"""), CancellationToken.None);
        var removed = await _a.Registry.AddHostedAsync(JsonNode.Parse("""{ "@context": { "Ferry": "https://example.org/Ferry" } }"""), CancellationToken.None);
        await _b.Registry.SynchronizeAsync(CancellationToken.None);
        Assert.Equal(
            new[] { kept.LocalId, removed.LocalId }.Order(StringComparer.Ordinal),
            _b.Registry.List(ContextKind.Hosted).Select(e => e.LocalId).Order(StringComparer.Ordinal));

        // Missed while a node was cut off: one deleted, one added.
        await _a.Registry.DeleteAsync(removed.LocalId, CancellationToken.None);
        var added = await _a.Registry.AddImplicitAsync(JsonNode.Parse("""{ "Boat": "https://example.org/Boat" }""")!, CancellationToken.None);
        var generation = _b.Registry.Generation;
        await _b.Registry.SynchronizeAsync(CancellationToken.None);

        Assert.NotEqual(generation, _b.Registry.Generation);
        Assert.Equal(
            new[] { kept.LocalId, added.LocalId }.Order(StringComparer.Ordinal),
            _b.Registry.List().Select(e => e.LocalId).Order(StringComparer.Ordinal));
        Assert.Equal(ContextKind.ImplicitlyCreated, _b.Registry.Get(added.LocalId).Kind);
    }

    [Fact]
    public async Task A_context_deleted_here_is_not_brought_back_by_a_refresh_that_read_it_before_the_delete()
    {
        var entry = await _a.Registry.AddHostedAsync(JsonNode.Parse("""{ "@context": { "Taxi": "https://example.org/Taxi" } }"""), CancellationToken.None);
        await _b.Registry.RefreshAsync(entry.LocalId, CancellationToken.None);
        var stored = _database.Documents[entry.LocalId];

        await _b.Registry.DeleteAsync(entry.LocalId, CancellationToken.None);
        // The document as a refresh racing the delete could have read it.
        await _database.PutAsync(stored, CancellationToken.None);
        await _b.Registry.RefreshAsync(entry.LocalId, CancellationToken.None);
        await _b.Registry.SynchronizeAsync(CancellationToken.None);

        Assert.Equal(ErrorType.ResourceNotFound, Assert.Throws<NgsiLdException>(() => _b.Registry.Get(entry.LocalId)).Type);
    }

    [Fact]
    public async Task Synchronize_without_changes_keeps_processed_contexts()
    {
        await _a.Registry.AddHostedAsync(JsonNode.Parse("""{ "@context": { "Car": "https://example.org/Car" } }"""), CancellationToken.None);
        await _b.Registry.SynchronizeAsync(CancellationToken.None);
        var generation = _b.Registry.Generation;

        await _b.Registry.SynchronizeAsync(CancellationToken.None);

        Assert.Equal(generation, _b.Registry.Generation);
    }
}
