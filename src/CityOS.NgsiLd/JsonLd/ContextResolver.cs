using System.Text.Json;
using System.Text.Json.Nodes;
using CityOS.NgsiLd.Errors;

namespace CityOS.NgsiLd.JsonLd;

/// <summary>
/// Resolves a request's @context (a URL, an inline object, or an array of both) into an <see cref="LdContext"/>:
/// core context URLs from the embedded files, hosted ones from the <see cref="ContextRegistry"/>, other URLs
/// downloaded (and cached) through it, following references inside remote contexts up to a depth limit.
/// </summary>
/// <remarks>
/// Processed contexts are cached by their source (the URL list, or the JSON text of an inline value), so a
/// client repeating the same Link header pays one dictionary probe. An entry is dropped when a document it
/// was built from goes stale or the registry's <see cref="ContextRegistry.Generation"/> moves on.
/// </remarks>
public sealed class ContextResolver : IContextResolver
{
    private readonly ContextRegistry _registry;
    private readonly TimeProvider _timeProvider;
    private readonly int _maxNestingDepth;
    private readonly LruCache<string, Resolved> _cache;

    public ContextResolver(ContextRegistry registry, JsonLdContextOptions options, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(options);
        _registry = registry;
        _timeProvider = timeProvider ?? TimeProvider.System;
        _maxNestingDepth = options.MaxNestingDepth;
        _cache = new LruCache<string, Resolved>(options.ResolvedContextCacheCapacity, StringComparer.Ordinal);
    }

    /// <inheritdoc />
    public ValueTask<LdContext> ResolveAsync(JsonNode? context, CancellationToken cancellationToken)
    {
        if (context is null)
        {
            return ValueTask.FromResult(LdContext.Core);
        }

        var key = CacheKey(context);
        if (_cache.TryGet(key, out var resolved))
        {
            var now = _timeProvider.GetUtcNow();
            if (resolved.Generation == _registry.Generation && resolved.ExpiresAt > now)
            {
                foreach (var dependency in resolved.Dependencies)
                {
                    dependency.RecordHit(now);
                }

                return ValueTask.FromResult(resolved.Context);
            }
        }

        return ResolveUncachedAsync(context, key, cancellationToken);
    }

    private async ValueTask<LdContext> ResolveUncachedAsync(JsonNode context, string key, CancellationToken cancellationToken)
    {
        // Read before collecting: a change made meanwhile then marks this entry stale rather than being missed.
        var generation = _registry.Generation;
        var collected = new Collected();
        await CollectAsync(context, null, collected, [], cancellationToken).ConfigureAwait(false);
        var ldContext = LdContext.Build(collected.Core ?? CoreVersion.V1_9, collected.Items, LdContext.TopLevelUrls(context), context);
        _cache.Set(key, new Resolved(ldContext, generation, collected.ExpiresAt, [.. collected.Dependencies]));
        return ldContext;
    }

    /// <summary>Flattens a @context value into the ordered local contexts to process, downloading URLs.</summary>
    private async ValueTask CollectAsync(JsonNode? node, string? documentUrl, Collected collected, List<string> chain, CancellationToken cancellationToken)
    {
        switch (node)
        {
            case null:
                collected.Items.Add(null);
                break;
            case JsonObject local:
                collected.Items.Add(local);
                break;
            case JsonArray array:
                foreach (var item in array)
                {
                    if (item is JsonArray)
                    {
                        throw NgsiLdException.BadRequest("Invalid @context: an array entry cannot itself be an array.");
                    }

                    await CollectAsync(item, documentUrl, collected, chain, cancellationToken).ConfigureAwait(false);
                }

                break;
            case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                await CollectUrlAsync(ResolveUrl(value.GetValue<string>(), documentUrl), collected, chain, cancellationToken).ConfigureAwait(false);
                break;
            default:
                throw NgsiLdException.BadRequest("Invalid @context: it must be a URL, an object, or an array of those.");
        }
    }

    private async ValueTask CollectUrlAsync(string url, Collected collected, List<string> chain, CancellationToken cancellationToken)
    {
        if (CoreContexts.TryGetVersion(url, out var version))
        {
            collected.Core = collected.Core is { } known && known > version ? known : version;
            return;
        }

        if (chain.Contains(url))
        {
            throw NgsiLdException.BadRequest($"Invalid @context: recursive context inclusion of {url} ({string.Join(" → ", chain)} → {url}).");
        }

        if (chain.Count > _maxNestingDepth)
        {
            throw NgsiLdException.BadRequest($"Invalid @context: remote contexts nest deeper than {_maxNestingDepth} levels ({string.Join(" → ", chain)}).");
        }

        var entry = await _registry.GetDocumentAsync(url, cancellationToken).ConfigureAwait(false);
        collected.Dependencies.Add(entry);
        if (entry.ExpiresAt is { } expiresAt && expiresAt < collected.ExpiresAt)
        {
            collected.ExpiresAt = expiresAt;
        }

        chain.Add(url);
        await CollectAsync(entry.ParseContextValue(), url, collected, chain, cancellationToken).ConfigureAwait(false);
        chain.RemoveAt(chain.Count - 1);
    }

    /// <summary>Top-level URLs must be absolute; inside a remote document they may be relative to it (JSON-LD 1.1 §4.1 step 5.2.1).</summary>
    private static string ResolveUrl(string reference, string? documentUrl)
    {
        if (Uri.TryCreate(reference, UriKind.Absolute, out var absolute))
        {
            return absolute.IsFile ? throw Invalid(reference) : reference;
        }

        if (documentUrl is not null && Uri.TryCreate(new Uri(documentUrl), reference, out var resolved))
        {
            return resolved.AbsoluteUri;
        }

        throw Invalid(reference);

        static NgsiLdException Invalid(string reference) =>
            NgsiLdException.BadRequest($"Invalid @context: '{reference}' is not an absolute http(s) URL.");
    }

    private static string CacheKey(JsonNode context)
    {
        if (context is JsonValue v && v.GetValueKind() == JsonValueKind.String)
        {
            return "u " + v.GetValue<string>();
        }

        if (context is JsonArray array && array.All(i => i is JsonValue iv && iv.GetValueKind() == JsonValueKind.String))
        {
            return "u " + string.Join('\n', array.Select(i => i!.GetValue<string>()));
        }

        return "j " + context.ToJsonString();
    }

    private sealed class Collected
    {
        public List<JsonObject?> Items { get; } = [];

        public List<ContextEntry> Dependencies { get; } = [];

        public CoreVersion? Core { get; set; }

        public DateTimeOffset ExpiresAt { get; set; } = DateTimeOffset.MaxValue;
    }

    private sealed record Resolved(LdContext Context, long Generation, DateTimeOffset ExpiresAt, ContextEntry[] Dependencies);
}
