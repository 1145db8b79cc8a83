using System.Globalization;
using System.Text.Json.Nodes;

namespace CityOS.NgsiLd.JsonLd;

/// <summary>The kinds of @context the broker keeps (§5.13.1).</summary>
public enum ContextKind
{
    /// <summary>POSTed by a user to /jsonldContexts; served at its local URL.</summary>
    Hosted,

    /// <summary>Downloaded while resolving a request's @context; listed but never served.</summary>
    Cached,

    /// <summary>Made by the broker itself (e.g. one URL for a subscription's array context); served.</summary>
    ImplicitlyCreated,
}

/// <summary>
/// One @context kept by the <see cref="ContextRegistry"/>. The document is immutable (a reload makes a new
/// entry); the usage counters are updated lock-free on every use.
/// </summary>
public sealed class ContextEntry
{
    private readonly ReadOnlyMemory<byte> _body;
    private long _hits;
    private long _lastUsageTicks;

    internal ContextEntry(string localId, string url, ContextKind kind, DateTimeOffset createdAt, DateTimeOffset? expiresAt, ReadOnlyMemory<byte> body)
    {
        LocalId = localId;
        Url = url;
        Kind = kind;
        CreatedAt = createdAt;
        ExpiresAt = expiresAt;
        _body = body;
    }

    /// <summary>The id in /ngsi-ld/v1/jsonldContexts/{id}.</summary>
    public string LocalId { get; }

    /// <summary>Hosted and implicit contexts: their local URL; cached ones: the remote URL they came from.</summary>
    public string Url { get; }

    public ContextKind Kind { get; }

    public DateTimeOffset CreatedAt { get; }

    /// <summary>When a cached document goes stale; null for hosted and implicit ones.</summary>
    public DateTimeOffset? ExpiresAt { get; }

    /// <summary>The last time a request's @context used this document, if ever.</summary>
    public DateTimeOffset? LastUsage
    {
        get
        {
            var ticks = Interlocked.Read(ref _lastUsageTicks);
            return ticks == 0 ? null : new DateTimeOffset(ticks, TimeSpan.Zero);
        }
    }

    /// <summary>How many times a request's @context used this document.</summary>
    public long NumberOfHits => Interlocked.Read(ref _hits);

    /// <summary>The JSON text of the document, <c>{"@context": …}</c>.</summary>
    public ReadOnlyMemory<byte> Body => _body;

    /// <summary>A fresh copy of the document, <c>{"@context": …}</c>.</summary>
    public JsonObject GetDocument() => (JsonObject)JsonNode.Parse(_body.Span)!;

    /// <summary>The details form of §5.13.2: <c>{URL, localId, kind, createdAt, expiresAt?, lastUsage?, numberOfHits}</c>.</summary>
    public JsonObject ToDetails()
    {
        var details = new JsonObject
        {
            ["URL"] = Url,
            ["localId"] = LocalId,
            ["kind"] = Kind.ToString(),
            ["createdAt"] = Format(CreatedAt),
        };
        if (ExpiresAt is { } expiresAt)
        {
            details["expiresAt"] = Format(expiresAt);
        }

        if (LastUsage is { } lastUsage)
        {
            details["lastUsage"] = Format(lastUsage);
        }

        details["numberOfHits"] = NumberOfHits;
        return details;
    }

    /// <summary>The "@context" member on its own, detached so it can be processed or re-parented.</summary>
    internal JsonNode? ParseContextValue()
    {
        var document = GetDocument();
        document.Remove("@context", out var context);
        return context;
    }

    internal void RecordHit(DateTimeOffset now)
    {
        Interlocked.Increment(ref _hits);
        Interlocked.Exchange(ref _lastUsageTicks, now.UtcTicks);
    }

    /// <summary>A copy with a new document (reload or refresh) that keeps identity and usage.</summary>
    internal ContextEntry WithDocument(DateTimeOffset? expiresAt, ReadOnlyMemory<byte> body)
    {
        var next = new ContextEntry(LocalId, Url, Kind, CreatedAt, expiresAt, body);
        next._hits = NumberOfHits;
        next._lastUsageTicks = Interlocked.Read(ref _lastUsageTicks);
        return next;
    }

    internal static string Format(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);
}
