using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using CityOS.NgsiLd.Geo;
using CityOS.NgsiLd.Model;
using CityOS.NgsiLd.Query;

namespace CityOS.Broker.Subscriptions;

/// <summary>What kinds of change a subscription is notified of (§5.2.12 notificationTrigger).</summary>
[Flags]
public enum NotificationTriggers
{
    /// <summary>No trigger.</summary>
    None = 0,

    /// <summary>entityCreated.</summary>
    EntityCreated = 1,

    /// <summary>entityDeleted.</summary>
    EntityDeleted = 2,

    /// <summary>attributeCreated (also part of entityUpdated).</summary>
    AttributeCreated = 4,

    /// <summary>attributeUpdated (also part of entityUpdated).</summary>
    AttributeUpdated = 8,

    /// <summary>attributeDeleted (also part of entityUpdated).</summary>
    AttributeDeleted = 16,
}

/// <summary>One element of a subscription's <c>entities</c>: an id or id pattern and a type expression.</summary>
/// <param name="Id">The entity id, or null.</param>
/// <param name="IdPattern">The id pattern, or null (ignored when <paramref name="Id"/> is given, as §5.2.8 says).</param>
/// <param name="Type">The type expression (names expanded).</param>
public sealed record EntitySelector(string? Id, Regex? IdPattern, TypeExpression Type)
{
    /// <summary>True when the entity with <paramref name="id"/> and <paramref name="types"/> is selected.</summary>
    public bool Matches(string id, JsonArray types)
    {
        ArgumentNullException.ThrowIfNull(types);
        if (Id is not null)
        {
            if (!string.Equals(Id, id, StringComparison.Ordinal))
            {
                return false;
            }
        }
        else if (IdPattern is not null)
        {
            try
            {
                if (!IdPattern.IsMatch(id))
                {
                    return false;
                }
            }
            catch (RegexMatchTimeoutException)
            {
                // A pattern that backtracks too long on this id selects nothing rather than stalling the notifier.
                return false;
            }
        }

        return Type.Matches(types);
    }
}

/// <summary>Where and how notifications are sent (§5.2.15 Endpoint).</summary>
public sealed record NotificationEndpoint
{
    /// <summary>http, https, mqtt or mqtts URI.</summary>
    public required Uri Uri { get; init; }

    /// <summary>application/json (default), application/ld+json or application/geo+json.</summary>
    public string Accept { get; init; } = "application/json";

    /// <summary>Pairs sent as headers (HTTP) or metadata (MQTT).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> ReceiverInfo { get; init; } = [];

    /// <summary>Pairs that tune the notifier (MQTT-Version, MQTT-QoS).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> NotifierInfo { get; init; } = [];

    /// <summary>The endpoint's own timeout, or null for the broker's default.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>True for mqtt:// and mqtts://.</summary>
    public bool IsMqtt => Uri.Scheme is "mqtt" or "mqtts";
}

/// <summary>
/// A parsed, validated NGSI-LD subscription (§5.2.12) with every name expanded. <see cref="Document"/> is the
/// subscription as the client wrote it (its own terms, read-only members removed, id and type set), which
/// with <see cref="Context"/> is what the stores keep; everything else is derived from the two.
/// </summary>
public sealed record Subscription
{
    /// <summary>The tenant ("" for the default one).</summary>
    public required string Tenant { get; init; }

    /// <summary>The subscription id (a URI).</summary>
    public required string Id { get; init; }

    /// <summary>The body as written by the client, normalized (see the type's remarks).</summary>
    public required JsonObject Document { get; init; }

    /// <summary>The @context the document is written in (a URL string, an object or an array).</summary>
    public required JsonNode Context { get; init; }

    /// <summary>Entity selectors; empty selects every entity.</summary>
    public IReadOnlyList<EntitySelector> Entities { get; init; } = [];

    /// <summary>Expanded watched attribute names; null watches every attribute.</summary>
    public IReadOnlySet<string>? WatchedAttributes { get; init; }

    /// <summary>The change kinds that notify.</summary>
    public NotificationTriggers Triggers { get; init; } = NotificationTriggers.AttributeCreated | NotificationTriggers.AttributeUpdated;

    /// <summary>The q filter, evaluated on the entity after the change.</summary>
    public QExpression? Q { get; init; }

    /// <summary>The scopeQ filter.</summary>
    public ScopeExpression? ScopeQ { get; init; }

    /// <summary>The geoQ filter.</summary>
    public GeoQuery? GeoQ { get; init; }

    /// <summary>False when paused by the client.</summary>
    public bool IsActive { get; init; } = true;

    /// <summary>When the subscription stops notifying; null never.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>Minimum time between two notifications; null none.</summary>
    public TimeSpan? Throttling { get; init; }

    /// <summary>Periodic subscriptions: the period; null for on-change ones.</summary>
    public TimeSpan? TimeInterval { get; init; }

    /// <summary>lang for LanguageProperties in notifications.</summary>
    public string? Lang { get; init; }

    /// <summary>Expanded attribute names to include (notification.attributes); null includes all.</summary>
    public IReadOnlySet<string>? Attributes { get; init; }

    /// <summary>notification.format.</summary>
    public Representation Format { get; init; } = Representation.Normalized;

    /// <summary>notification.sysAttrs.</summary>
    public bool SysAttrs { get; init; }

    /// <summary>notification.showChanges: previous values of changed attributes.</summary>
    public bool ShowChanges { get; init; }

    /// <summary>notification.endpoint.</summary>
    public required NotificationEndpoint Endpoint { get; init; }

    /// <summary>jsonldContext: the @context notifications are compacted with; null for <see cref="Context"/>.</summary>
    public string? JsonLdContext { get; init; }

    /// <summary>When the subscription was created.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>When the subscription was last changed.</summary>
    public DateTimeOffset ModifiedAt { get; init; }

    /// <summary>True when the subscription notifies at <paramref name="now"/>: active and not expired.</summary>
    public bool IsLiveAt(DateTimeOffset now) => IsActive && (ExpiresAt is null || ExpiresAt > now);

    /// <summary>The subscription's status member at <paramref name="now"/>: active, paused or expired.</summary>
    public string StatusAt(DateTimeOffset now) =>
        ExpiresAt is { } expires && expires <= now ? "expired" : IsActive ? "active" : "paused";
}
