using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CityOS.NgsiLd.Errors;

namespace CityOS.NgsiLd.JsonLd;

/// <summary>
/// The broker's @context store behind /jsonldContexts (§5.13): hosted contexts (persisted through
/// <see cref="IHostedContextStore"/>, served at their local URL), implicitly created ones (same), and the
/// bounded LRU of documents downloaded while resolving requests (kind Cached).
/// </summary>
/// <remarks>
/// <see cref="Generation"/> changes whenever a document that resolved contexts may depend on is deleted or
/// reloaded, so <see cref="ContextResolver"/> can keep its cache of processed contexts without a callback.
/// When a cached document is stale and the refresh fails, the stale copy keeps being used (and is retried
/// after <see cref="JsonLdContextOptions.MinCacheDuration"/>): a city's broker should not stop accepting data
/// because a context host is briefly down.
/// </remarks>
public sealed class ContextRegistry
{
    private const string LocalPath = "/ngsi-ld/v1/jsonldContexts/";

    private readonly IHostedContextStore _store;
    private readonly ContextDownloader _downloader;
    private readonly TimeProvider _timeProvider;
    private readonly TimeSpan _defaultCacheDuration;
    private readonly TimeSpan _minCacheDuration;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, ContextEntry> _served = new(StringComparer.Ordinal);
    private readonly HashSet<string> _removed = new(StringComparer.Ordinal);
    private readonly LruCache<string, ContextEntry> _cachedByUrl;
    private readonly Dictionary<string, string> _cachedUrlById = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Lazy<Task<ContextEntry>>> _downloads = new(StringComparer.Ordinal);
    private readonly JsonLdContextOptions _options;
    private long _generation;
    private LocalPrefix _localPrefix;

    public ContextRegistry(IHostedContextStore store, ContextDownloader downloader, JsonLdContextOptions options, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(downloader);
        ArgumentNullException.ThrowIfNull(options);
        _store = store;
        _downloader = downloader;
        _timeProvider = timeProvider ?? TimeProvider.System;
        _defaultCacheDuration = options.DefaultCacheDuration;
        _minCacheDuration = options.MinCacheDuration;
        _cachedByUrl = new LruCache<string, ContextEntry>(options.DocumentCacheCapacity, StringComparer.Ordinal);
        _options = options;
        _localPrefix = new LocalPrefix(options.BaseUrl, options.BaseUrl.TrimEnd('/') + LocalPath);
    }

    /// <summary>
    /// The start of every local URL: <c>{BaseUrl}/ngsi-ld/v1/jsonldContexts/</c>. Follows
    /// <see cref="JsonLdContextOptions.BaseUrl"/>, which a host listening on port 0 only learns after start.
    /// </summary>
    public string LocalUrlPrefix
    {
        get
        {
            var current = Volatile.Read(ref _localPrefix);
            var baseUrl = _options.BaseUrl;
            if (!ReferenceEquals(current.BaseUrl, baseUrl))
            {
                current = new LocalPrefix(baseUrl, baseUrl.TrimEnd('/') + LocalPath);
                Volatile.Write(ref _localPrefix, current);
            }

            return current.Prefix;
        }
    }

    /// <summary>Changes when a document is deleted or reloaded; processed contexts built before are stale.</summary>
    public long Generation => Interlocked.Read(ref _generation);

    /// <summary>The local URL of a hosted or implicitly created context.</summary>
    public string LocalUrl(string id) => LocalUrlPrefix + id;

    /// <summary>Parses the <c>kind</c> query parameter value; false for anything but the three kinds.</summary>
    public static bool TryParseKind(string? value, out ContextKind kind)
    {
        switch (value)
        {
            case "Hosted":
                kind = ContextKind.Hosted;
                return true;
            case "Cached":
                kind = ContextKind.Cached;
                return true;
            case "ImplicitlyCreated":
                kind = ContextKind.ImplicitlyCreated;
                return true;
            default:
                kind = default;
                return false;
        }
    }

    /// <summary>Loads the persisted hosted and implicit contexts; call once at start-up.</summary>
    public async Task LoadAsync(CancellationToken cancellationToken)
    {
        var documents = await _store.ListAsync(cancellationToken).ConfigureAwait(false);
        lock (_lock)
        {
            foreach (var document in documents)
            {
                var kind = document.Kind == nameof(ContextKind.ImplicitlyCreated) ? ContextKind.ImplicitlyCreated : ContextKind.Hosted;
                _served[document.Id] = new ContextEntry(document.Id, LocalUrl(document.Id), kind, document.CreatedAt, null, Encoding.UTF8.GetBytes(document.Body));
            }
        }
    }

    /// <summary>
    /// Makes the hosted and implicit contexts match the store again, e.g. after another broker node on the same
    /// database changed them while this one may have missed the news. Processed contexts are invalidated when
    /// anything was removed or replaced.
    /// </summary>
    public async Task SynchronizeAsync(CancellationToken cancellationToken)
    {
        var documents = await _store.ListAsync(cancellationToken).ConfigureAwait(false);
        var ids = new HashSet<string>(documents.Select(d => d.Id), StringComparer.Ordinal);
        List<string> missing;
        lock (_lock)
        {
            var changed = false;
            foreach (var document in documents)
            {
                changed |= SetServed(document);
            }

            if (changed)
            {
                Interlocked.Increment(ref _generation);
            }

            missing = [.. _served.Keys.Where(id => !ids.Contains(id))];
        }

        // Checked one by one: a context this node added after the listing was read is served but not listed.
        foreach (var id in missing)
        {
            await RefreshAsync(id, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Reads one hosted or implicit context from the store again (another node added, replaced or deleted it):
    /// it is served as stored, or no longer served when gone.
    /// </summary>
    public async Task RefreshAsync(string id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(id);
        var document = await _store.GetAsync(id, cancellationToken).ConfigureAwait(false);
        lock (_lock)
        {
            var changed = document is null ? RemoveServed(id) : SetServed(document);
            if (changed)
            {
                Interlocked.Increment(ref _generation);
            }
        }
    }

    /// <summary>Stops serving a context for good (under <c>_lock</c>); true when it was served.</summary>
    private bool RemoveServed(string id)
    {
        // Ids are never reused, so a deleted one may be remembered as such: a refresh that read the document
        // just before this node deleted it must not bring it back.
        _removed.Add(id);
        return _served.Remove(id);
    }

    /// <summary>Serves a stored document (under <c>_lock</c>); true when it replaced a different one.</summary>
    private bool SetServed(StoredContextDocument document)
    {
        if (_removed.Contains(document.Id))
        {
            return false;
        }

        var body = Encoding.UTF8.GetBytes(document.Body);
        var existed = _served.TryGetValue(document.Id, out var previous);
        if (existed && previous!.Body.Span.SequenceEqual(body))
        {
            return false;
        }

        var kind = document.Kind == nameof(ContextKind.ImplicitlyCreated) ? ContextKind.ImplicitlyCreated : ContextKind.Hosted;
        _served[document.Id] = new ContextEntry(document.Id, LocalUrl(document.Id), kind, document.CreatedAt, null, body);
        return existed;
    }

    /// <summary>
    /// Hosts a user's context (POST /jsonldContexts): the body must be an object with "@context" (other members
    /// are discarded) whose value is a valid @context; it is persisted and served at its local URL.
    /// </summary>
    /// <exception cref="NgsiLdException">BadRequestData for an invalid body.</exception>
    public async Task<ContextEntry> AddHostedAsync(JsonNode? body, CancellationToken cancellationToken)
    {
        if (body is not JsonObject o || !o.TryGetPropertyValue("@context", out var context))
        {
            throw NgsiLdException.BadRequest("A hosted @context must be a JSON object with an \"@context\" member.");
        }

        ValidateContextValue(context);
        return await AddServedAsync(ContextKind.Hosted, context, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Makes (or finds) an implicitly created context holding <paramref name="context"/>, e.g. to give a
    /// subscription's array context a single URL for application/json notifications.
    /// </summary>
    public async Task<ContextEntry> AddImplicitAsync(JsonNode context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        ValidateContextValue(context);
        var body = Serialize(context);
        lock (_lock)
        {
            foreach (var entry in _served.Values)
            {
                if (entry.Kind == ContextKind.ImplicitlyCreated && entry.Body.Span.SequenceEqual(body))
                {
                    return entry;
                }
            }
        }

        return await AddServedAsync(ContextKind.ImplicitlyCreated, context, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>All entries, optionally of one kind, oldest first.</summary>
    public IReadOnlyList<ContextEntry> List(ContextKind? kind = null)
    {
        List<ContextEntry> all;
        lock (_lock)
        {
            all = [.. _served.Values, .. _cachedByUrl.Values()];
        }

        return [.. all.Where(e => kind is null || e.Kind == kind).OrderBy(e => e.CreatedAt).ThenBy(e => e.LocalId, StringComparer.Ordinal)];
    }

    /// <summary>The GET /jsonldContexts body: URLs, or detail objects when <paramref name="details"/> is true.</summary>
    public JsonArray ListJson(ContextKind? kind, bool details)
    {
        var array = new JsonArray();
        foreach (var entry in List(kind))
        {
            array.Add(details ? entry.ToDetails() : JsonValue.Create(entry.Url));
        }

        return array;
    }

    /// <summary>One entry by local id.</summary>
    /// <exception cref="NgsiLdException">ResourceNotFound when unknown.</exception>
    public ContextEntry Get(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        lock (_lock)
        {
            if (_served.TryGetValue(id, out var entry))
            {
                return entry;
            }

            if (_cachedUrlById.TryGetValue(id, out var url) && _cachedByUrl.TryGet(url, out var cached))
            {
                return cached;
            }
        }

        throw NgsiLdException.NotFound($"No @context with id '{id}'.");
    }

    /// <summary>The served document of GET /jsonldContexts/{id} without details.</summary>
    /// <exception cref="NgsiLdException">ResourceNotFound when unknown; OperationNotSupported for a cached context, which is never served.</exception>
    public JsonObject GetContent(string id)
    {
        var entry = Get(id);
        return entry.Kind == ContextKind.Cached
            ? throw new NgsiLdException(ErrorType.OperationNotSupported, $"The @context '{id}' is a cached copy of {entry.Url} and is not served; ask for details=true.")
            : entry.GetDocument();
    }

    /// <summary>Removes one entry (DELETE /jsonldContexts/{id}); a hosted one is also removed from the store.</summary>
    /// <exception cref="NgsiLdException">ResourceNotFound when unknown.</exception>
    public async Task DeleteAsync(string id, CancellationToken cancellationToken)
    {
        var entry = Get(id);
        if (entry.Kind != ContextKind.Cached)
        {
            await _store.DeleteAsync(id, cancellationToken).ConfigureAwait(false);
        }

        lock (_lock)
        {
            if (!(entry.Kind != ContextKind.Cached && RemoveServed(id)) && _cachedUrlById.Remove(id, out var url))
            {
                _cachedByUrl.Remove(url);
            }

            Interlocked.Increment(ref _generation);
        }
    }

    /// <summary>
    /// Downloads a cached context again (DELETE …?reload=true). On failure the old copy stays and
    /// LdContextNotAvailable is thrown.
    /// </summary>
    /// <exception cref="NgsiLdException">ResourceNotFound when unknown; BadRequestData when the entry is not Cached; LdContextNotAvailable on download failure.</exception>
    public async Task<ContextEntry> ReloadAsync(string id, CancellationToken cancellationToken)
    {
        var entry = Get(id);
        if (entry.Kind != ContextKind.Cached)
        {
            throw NgsiLdException.BadRequest($"Only cached @contexts can be reloaded; '{id}' is {entry.Kind}.");
        }

        var downloaded = await _downloader.DownloadAsync(entry.Url, cancellationToken).ConfigureAwait(false);
        lock (_lock)
        {
            var current = _cachedByUrl.TryGet(entry.Url, out var c) ? c : entry;
            var reloaded = current.WithDocument(ExpiryOf(downloaded.MaxAge), downloaded.Body);
            StoreCached(reloaded);
            Interlocked.Increment(ref _generation);
            return reloaded;
        }
    }

    /// <summary>
    /// The document behind a @context URL during request resolution: a hosted or implicit one by its local
    /// URL (never over HTTP), else the cached copy while fresh, else a download (one at a time per URL).
    /// Records the use.
    /// </summary>
    /// <exception cref="NgsiLdException">LdContextNotAvailable when the document cannot be had.</exception>
    public async ValueTask<ContextEntry> GetDocumentAsync(string url, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(url);
        var now = _timeProvider.GetUtcNow();
        ContextEntry? stale = null;
        lock (_lock)
        {
            if (url.StartsWith(LocalUrlPrefix, StringComparison.Ordinal))
            {
                if (_served.TryGetValue(url[LocalUrlPrefix.Length..], out var served))
                {
                    served.RecordHit(now);
                    return served;
                }

                throw new NgsiLdException(ErrorType.LdContextNotAvailable, $"The @context {url} is not hosted by this broker.");
            }

            if (_cachedByUrl.TryGet(url, out var cached))
            {
                if (cached.ExpiresAt > now)
                {
                    cached.RecordHit(now);
                    return cached;
                }

                stale = cached;
            }
        }

        var download = _downloads.GetOrAdd(url, static (u, self) => new Lazy<Task<ContextEntry>>(() => self.DownloadAndCacheAsync(u)), this);
        try
        {
            var entry = await download.Value.WaitAsync(cancellationToken).ConfigureAwait(false);
            entry.RecordHit(now);
            return entry;
        }
        catch (NgsiLdException) when (stale is not null)
        {
            lock (_lock)
            {
                // Keep serving the stale copy, and wait a little before trying the host again.
                var kept = (_cachedByUrl.TryGet(url, out var c) ? c : stale).WithDocument(now + _minCacheDuration, stale.Body);
                StoreCached(kept);
                kept.RecordHit(now);
                return kept;
            }
        }
    }

    private async Task<ContextEntry> DownloadAndCacheAsync(string url)
    {
        try
        {
            // Not tied to one request's token: other requests may be waiting on the same download; the downloader's timeout bounds it.
            var downloaded = await _downloader.DownloadAsync(url, CancellationToken.None).ConfigureAwait(false);
            lock (_lock)
            {
                var entry = _cachedByUrl.TryGet(url, out var previous)
                    ? previous.WithDocument(ExpiryOf(downloaded.MaxAge), downloaded.Body)
                    : new ContextEntry(NewId(), url, ContextKind.Cached, _timeProvider.GetUtcNow(), ExpiryOf(downloaded.MaxAge), downloaded.Body);
                StoreCached(entry);
                return entry;
            }
        }
        finally
        {
            // Removed by the download itself, not by its waiters: they may all have been cancelled, and a finished
            // (possibly failed) download left behind would be handed to the next request. No other download of
            // this URL can be registered before this line runs, since GetOrAdd returns the one in progress.
            _downloads.TryRemove(url, out _);
        }
    }

    private void StoreCached(ContextEntry entry)
    {
        // Called under _lock.
        _cachedUrlById[entry.LocalId] = entry.Url;
        if (_cachedByUrl.Set(entry.Url, entry) is { } evicted)
        {
            _cachedUrlById.Remove(evicted.Value.LocalId);
        }
    }

    private DateTimeOffset ExpiryOf(TimeSpan? maxAge)
    {
        var duration = maxAge ?? _defaultCacheDuration;
        return _timeProvider.GetUtcNow() + (duration < _minCacheDuration ? _minCacheDuration : duration);
    }

    private async Task<ContextEntry> AddServedAsync(ContextKind kind, JsonNode? context, CancellationToken cancellationToken)
    {
        var id = NewId();
        var body = Serialize(context);
        var entry = new ContextEntry(id, LocalUrl(id), kind, _timeProvider.GetUtcNow(), null, body);
        await _store.PutAsync(new StoredContextDocument(id, kind.ToString(), Encoding.UTF8.GetString(body), entry.CreatedAt), cancellationToken).ConfigureAwait(false);
        lock (_lock)
        {
            _served[id] = entry;
        }

        return entry;
    }

    private static byte[] Serialize(JsonNode? context)
    {
        var document = new JsonObject { ["@context"] = context?.DeepClone() };
        return JsonSerializer.SerializeToUtf8Bytes(document, ContextJson.Default.JsonObject);
    }

    /// <summary>
    /// Checks the shape of a @context value to host: URLs must be absolute, inline objects must pass context
    /// processing (no scoped contexts, valid term definitions). Remote URLs are not fetched here.
    /// </summary>
    private static void ValidateContextValue(JsonNode? context)
    {
        var objects = new List<JsonObject?>();
        foreach (var item in context is JsonArray array ? array : (IEnumerable<JsonNode?>)[context])
        {
            switch (item)
            {
                case JsonObject o:
                    objects.Add(o);
                    break;
                case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                    if (!Uri.TryCreate(v.GetValue<string>(), UriKind.Absolute, out _))
                    {
                        throw NgsiLdException.BadRequest($"Invalid @context: '{v.GetValue<string>()}' is not an absolute URL.");
                    }

                    break;
                case null when context is JsonArray:
                    objects.Add(null);
                    break;
                default:
                    throw NgsiLdException.BadRequest("Invalid @context: it must be a URL, an object or an array of those.");
            }
        }

        _ = LdContext.Build(CoreVersion.V1_9, objects, [], null);
    }

    private static string NewId() => Guid.CreateVersion7().ToString("N");

    private sealed record LocalPrefix(string BaseUrl, string Prefix);
}
