using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using CityOS.NgsiLd.Errors;
using CityOS.NgsiLd.Geo;
using CityOS.NgsiLd.JsonLd;
using CityOS.NgsiLd.Model;
using CityOS.NgsiLd.Query;

namespace CityOS.Broker.Subscriptions;

/// <summary>
/// Reads and validates subscription bodies (§5.2.12, §5.2.14, §5.2.15): create bodies, PATCH fragments and
/// stored documents all go through <see cref="Parse"/>, so what the API accepts and what a node loads agree.
/// Every invalid member is 400 BadRequestData naming it.
/// </summary>
public static class SubscriptionParser
{
    /// <summary>The subscription type name.</summary>
    public const string SubscriptionType = "Subscription";

    private const string IdPrefix = "urn:ngsi-ld:Subscription:";

    private static readonly HashSet<string> TopMembers = new(StringComparer.Ordinal)
    {
        "id", "type", "subscriptionName", "description", "entities", "watchedAttributes", "notificationTrigger", "timeInterval",
        "q", "geoQ", "scopeQ", "isActive", "expiresAt", "throttling", "lang", "notification", "jsonldContext",
    };

    // Members the broker maintains; a client may send them back (e.g. a GET result) and they are ignored.
    private static readonly string[] ReadOnlyTop = ["status", "createdAt", "modifiedAt", "@context"];
    private static readonly string[] ReadOnlyNotification = ["status", "timesSent", "timesFailed", "lastNotification", "lastSuccess", "lastFailure", "queueLength", "droppedNotifications"];

    private static readonly HashSet<string> NotificationMembers = new(StringComparer.Ordinal)
    {
        "attributes", "format", "sysAttrs", "showChanges", "endpoint",
    };

    private static readonly HashSet<string> EndpointMembers = new(StringComparer.Ordinal)
    {
        "uri", "accept", "receiverInfo", "notifierInfo", "timeout",
    };

    private static readonly HashSet<string> SelectorMembers = new(StringComparer.Ordinal) { "id", "idPattern", "type" };

    private static readonly Dictionary<string, NotificationTriggers> TriggerWords = new(StringComparer.Ordinal)
    {
        ["entityCreated"] = NotificationTriggers.EntityCreated,
        ["entityUpdated"] = NotificationTriggers.AttributeCreated | NotificationTriggers.AttributeUpdated | NotificationTriggers.AttributeDeleted,
        ["entityDeleted"] = NotificationTriggers.EntityDeleted,
        ["attributeCreated"] = NotificationTriggers.AttributeCreated,
        ["attributeUpdated"] = NotificationTriggers.AttributeUpdated,
        ["attributeDeleted"] = NotificationTriggers.AttributeDeleted,
    };

    /// <summary>
    /// Turns a create body (without @context) into the document to store: read-only members dropped, the id
    /// generated when absent. The body is modified and returned.
    /// </summary>
    public static JsonObject PrepareCreate(JsonObject body)
    {
        ArgumentNullException.ThrowIfNull(body);
        DropReadOnly(body);
        if (!body.ContainsKey("id"))
        {
            // Keep id and type first, as a client reading the stored document back expects.
            var members = body.ToList();
            body.Clear();
            body["id"] = IdPrefix + Guid.NewGuid().ToString("D");
            foreach (var (name, value) in members)
            {
                body[name] = value;
            }
        }

        return body;
    }

    /// <summary>
    /// Applies a PATCH fragment (§5.8.2) to a stored document and returns the new document: each member given
    /// replaces the stored one, the NGSI-LD Null or JSON null removes it, and <c>notification</c> is merged member
    /// by member (its <c>endpoint</c> is replaced whole).
    /// </summary>
    public static JsonObject ApplyPatch(JsonObject document, JsonObject fragment)
    {
        ArgumentNullException.ThrowIfNull(document);
        ArgumentNullException.ThrowIfNull(fragment);
        DropReadOnly(fragment);
        if (fragment.Count == 0)
        {
            throw NgsiLdException.BadRequest("The PATCH body holds no subscription member to change.");
        }

        var result = document.DeepClone().AsObject();
        foreach (var (name, value) in fragment)
        {
            if (name == "id")
            {
                if (!JsonNode.DeepEquals(value, document["id"]))
                {
                    throw NgsiLdException.BadRequest("The id of a subscription cannot be changed.");
                }

                continue;
            }

            if (name == "notification" && value is JsonObject notificationPatch && result["notification"] is JsonObject notification)
            {
                foreach (var (member, memberValue) in notificationPatch)
                {
                    SetOrRemove(notification, member, memberValue);
                }

                continue;
            }

            SetOrRemove(result, name, value);
        }

        return result;
    }

    private static void SetOrRemove(JsonObject target, string name, JsonNode? value)
    {
        if (value is null || (value is JsonValue v && v.TryGetValue<string>(out var s) && s == Names.NgsiLdNull))
        {
            target.Remove(name);
        }
        else
        {
            target[name] = value.DeepClone();
        }
    }

    private static void DropReadOnly(JsonObject body)
    {
        foreach (var name in ReadOnlyTop)
        {
            body.Remove(name);
        }

        if (body["notification"] is JsonObject notification)
        {
            foreach (var name in ReadOnlyNotification)
            {
                notification.Remove(name);
            }
        }
    }

    /// <summary>
    /// Parses and validates a subscription document written in <paramref name="context"/> (whose @context value is
    /// <paramref name="contextNode"/>). The document must hold an id (see <see cref="PrepareCreate"/>).
    /// </summary>
    /// <exception cref="NgsiLdException">BadRequestData for any invalid member.</exception>
    public static Subscription Parse(string tenant, JsonObject document, JsonNode contextNode, LdContext context, DateTimeOffset createdAt, DateTimeOffset modifiedAt)
    {
        ArgumentNullException.ThrowIfNull(document);
        ArgumentNullException.ThrowIfNull(contextNode);
        ArgumentNullException.ThrowIfNull(context);
        try
        {
            return ParseChecked(tenant, document, contextNode, context, createdAt, modifiedAt);
        }
        catch (ArgumentException e)
        {
            // JsonObject refuses a member name given twice when it is first looked up.
            throw NgsiLdException.BadRequest("The subscription holds an object with a duplicate member name: " + e.Message);
        }
    }

    private static Subscription ParseChecked(string tenant, JsonObject document, JsonNode contextNode, LdContext context, DateTimeOffset createdAt, DateTimeOffset modifiedAt)
    {
        foreach (var (name, _) in document)
        {
            if (!TopMembers.Contains(name))
            {
                throw NgsiLdException.BadRequest($"'{Short(name)}' is not a subscription member this broker supports (supported: {string.Join(", ", TopMembers.Order(StringComparer.Ordinal))}).");
            }
        }

        var id = RequiredString(document, "id", "id");
        if (!NameRules.IsUri(id) || id.Length > EntityParser.MaxEntityIdLength)
        {
            throw NgsiLdException.BadRequest($"The subscription id '{Short(id)}' is not a URI.");
        }

        if (RequiredString(document, "type", "type") != SubscriptionType)
        {
            throw NgsiLdException.BadRequest("A subscription must have \"type\": \"Subscription\".");
        }

        OptionalString(document, "subscriptionName");
        OptionalString(document, "description");

        var entities = ParseEntities(document["entities"], context);
        var watched = ParseNames(document["watchedAttributes"], "watchedAttributes", context);
        var timeInterval = PositiveSeconds(document, "timeInterval");
        var throttling = PositiveSeconds(document, "throttling");
        if (timeInterval is not null)
        {
            if (watched is not null)
            {
                throw NgsiLdException.BadRequest("timeInterval (a periodic subscription) cannot be combined with watchedAttributes.");
            }

            if (throttling is not null)
            {
                throw NgsiLdException.BadRequest("timeInterval (a periodic subscription) cannot be combined with throttling.");
            }

            if (document["notificationTrigger"] is not null)
            {
                throw NgsiLdException.BadRequest("timeInterval (a periodic subscription) cannot be combined with notificationTrigger.");
            }

            if (entities.Count == 0)
            {
                throw NgsiLdException.BadRequest("A periodic subscription (timeInterval) needs entities.");
            }
        }
        else if (entities.Count == 0 && watched is null)
        {
            throw NgsiLdException.BadRequest("A subscription needs entities, watchedAttributes or both.");
        }

        var triggers = ParseTriggers(document["notificationTrigger"]);
        var q = OptionalString(document, "q") is { } qText ? ParseFilter(() => QParser.Parse(qText, context)) : null;
        var scopeQ = OptionalString(document, "scopeQ") is { } scopeText ? ParseFilter(() => ScopeQueryParser.Parse(scopeText)) : null;
        GeoQuery? geoQ = document["geoQ"] switch
        {
            null => null,
            JsonObject g => GeoQuery.FromGeoQ(g, context),
            _ => throw NgsiLdException.BadRequest("geoQ must be an object {geometry, coordinates, georel, geoproperty}."),
        };
        var isActive = document["isActive"] switch
        {
            null => true,
            JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => v.GetValue<bool>(),
            _ => throw NgsiLdException.BadRequest("isActive must be true or false."),
        };
        DateTimeOffset? expiresAt = OptionalString(document, "expiresAt") is { } expiresText
            ? ParseDateTime(expiresText, "expiresAt")
            : null;
        var lang = OptionalString(document, "lang");
        if (lang is not null)
        {
            // Validated by building render options once, so that a bad lang fails here and not at notification time.
            _ = ParseFilter(() => new RenderOptions { Lang = lang });
        }

        var jsonldContext = OptionalString(document, "jsonldContext");
        if (jsonldContext is not null && (!Uri.TryCreate(jsonldContext, UriKind.Absolute, out var contextUri) || (contextUri.Scheme != Uri.UriSchemeHttp && contextUri.Scheme != Uri.UriSchemeHttps)))
        {
            throw NgsiLdException.BadRequest($"jsonldContext '{Short(jsonldContext)}' is not an http(s) URL.");
        }

        if (document["notification"] is not JsonObject notification)
        {
            throw NgsiLdException.BadRequest(document["notification"] is null ? "A subscription needs notification (with an endpoint)." : "notification must be an object.");
        }

        foreach (var (name, _) in notification)
        {
            if (!NotificationMembers.Contains(name))
            {
                throw NgsiLdException.BadRequest($"'{Short(name)}' is not a notification member this broker supports (supported: {string.Join(", ", NotificationMembers.Order(StringComparer.Ordinal))}).");
            }
        }

        var attributes = ParseNames(notification["attributes"], "notification.attributes", context);
        var format = OptionalString(notification, "format", "notification.format") switch
        {
            null or "normalized" => Representation.Normalized,
            "concise" => Representation.Concise,
            "keyValues" or "simplified" => Representation.KeyValues,
            var other => throw NgsiLdException.BadRequest($"notification.format '{Short(other)}' is not one of normalized, concise, keyValues, simplified."),
        };
        var sysAttrs = OptionalBool(notification, "sysAttrs", "notification.sysAttrs");
        var showChanges = OptionalBool(notification, "showChanges", "notification.showChanges");
        var endpoint = ParseEndpoint(notification["endpoint"]);

        return new Subscription
        {
            Tenant = tenant,
            Id = id,
            Document = document,
            Context = contextNode,
            Entities = entities,
            WatchedAttributes = watched,
            Triggers = triggers,
            Q = q,
            ScopeQ = scopeQ,
            GeoQ = geoQ,
            IsActive = isActive,
            ExpiresAt = expiresAt,
            Throttling = throttling,
            TimeInterval = timeInterval,
            Lang = lang,
            Attributes = attributes,
            Format = format,
            SysAttrs = sysAttrs,
            ShowChanges = showChanges,
            Endpoint = endpoint,
            JsonLdContext = jsonldContext,
            CreatedAt = createdAt,
            ModifiedAt = modifiedAt,
        };
    }

    private static List<EntitySelector> ParseEntities(JsonNode? node, LdContext context)
    {
        if (node is null)
        {
            return [];
        }

        if (node is not JsonArray array || array.Count == 0)
        {
            throw NgsiLdException.BadRequest("entities must be a non-empty array of {id?, idPattern?, type}.");
        }

        var selectors = new List<EntitySelector>(array.Count);
        foreach (var item in array)
        {
            if (item is not JsonObject selector)
            {
                throw NgsiLdException.BadRequest("Each element of entities must be an object {id?, idPattern?, type}.");
            }

            foreach (var (name, _) in selector)
            {
                if (!SelectorMembers.Contains(name))
                {
                    throw NgsiLdException.BadRequest($"'{Short(name)}' is not a member of an entities element (id, idPattern, type).");
                }
            }

            var id = OptionalString(selector, "id", "entities[].id");
            if (id is not null)
            {
                EntityParser.ValidateEntityId(id);
            }

            var pattern = OptionalString(selector, "idPattern", "entities[].idPattern");
            var type = OptionalString(selector, "type", "entities[].type")
                ?? throw NgsiLdException.BadRequest("Each element of entities needs a type.");
            selectors.Add(new EntitySelector(
                id,
                pattern is null ? null : CompilePattern(pattern),
                type == "*" ? new AnyType() : TypeExpressionParser.Parse(type, context)));
        }

        return selectors;
    }

    private static Regex CompilePattern(string pattern)
    {
        try
        {
            return new Regex(pattern, RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(50));
        }
        catch (ArgumentException e)
        {
            throw NgsiLdException.BadRequest($"entities[].idPattern is not a valid regular expression: {e.Message}");
        }
    }

    private static HashSet<string>? ParseNames(JsonNode? node, string member, LdContext context)
    {
        if (node is null)
        {
            return null;
        }

        if (node is not JsonArray array || array.Count == 0)
        {
            throw NgsiLdException.BadRequest($"{member} must be a non-empty array of attribute names.");
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var item in array)
        {
            if (item is not JsonValue v || !v.TryGetValue<string>(out var name))
            {
                throw NgsiLdException.BadRequest($"{member} must hold attribute names (strings).");
            }

            if (!NameRules.IsValidName(name) || name is "id" or "type")
            {
                throw NgsiLdException.BadRequest($"{member}: '{Short(name)}' is not a valid attribute name.");
            }

            names.Add(context.ExpandTerm(name));
        }

        return names;
    }

    private static NotificationTriggers ParseTriggers(JsonNode? node)
    {
        if (node is null)
        {
            return NotificationTriggers.AttributeCreated | NotificationTriggers.AttributeUpdated;
        }

        if (node is not JsonArray array || array.Count == 0)
        {
            throw NgsiLdException.BadRequest("notificationTrigger must be a non-empty array.");
        }

        var triggers = NotificationTriggers.None;
        foreach (var item in array)
        {
            if (item is not JsonValue v || !v.TryGetValue<string>(out var word) || !TriggerWords.TryGetValue(word, out var trigger))
            {
                throw NgsiLdException.BadRequest($"notificationTrigger holds '{Short(item?.ToJsonString() ?? "null")}'; allowed: {string.Join(", ", TriggerWords.Keys)}.");
            }

            triggers |= trigger;
        }

        return triggers;
    }

    private static NotificationEndpoint ParseEndpoint(JsonNode? node)
    {
        if (node is not JsonObject endpoint)
        {
            throw NgsiLdException.BadRequest(node is null ? "notification.endpoint is required." : "notification.endpoint must be an object.");
        }

        foreach (var (name, _) in endpoint)
        {
            if (!EndpointMembers.Contains(name))
            {
                throw NgsiLdException.BadRequest($"'{Short(name)}' is not an endpoint member this broker supports (supported: {string.Join(", ", EndpointMembers.Order(StringComparer.Ordinal))}).");
            }
        }

        var uriText = OptionalString(endpoint, "uri", "notification.endpoint.uri") ?? throw NgsiLdException.BadRequest("notification.endpoint.uri is required.");
        if (!Uri.TryCreate(uriText, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https" or "mqtt" or "mqtts") || string.IsNullOrEmpty(uri.Host))
        {
            throw NgsiLdException.BadRequest($"notification.endpoint.uri '{Short(uriText)}' is not an absolute http, https, mqtt or mqtts URI.");
        }

        if (uri.Scheme is "mqtt" or "mqtts" && uri.AbsolutePath.Trim('/').Length == 0)
        {
            throw NgsiLdException.BadRequest("An mqtt(s) endpoint needs a topic: mqtt://host[:port]/topic.");
        }

        var accept = OptionalString(endpoint, "accept", "notification.endpoint.accept") ?? "application/json";
        if (accept is not ("application/json" or "application/ld+json" or "application/geo+json"))
        {
            throw NgsiLdException.BadRequest($"notification.endpoint.accept '{Short(accept)}' is not one of application/json, application/ld+json, application/geo+json.");
        }

        TimeSpan? timeout = endpoint["timeout"] switch
        {
            null => null,
            JsonValue v when v.TryGetValue<double>(out var ms) && ms > 0 && ms <= 600_000 => TimeSpan.FromMilliseconds(ms),
            _ => throw NgsiLdException.BadRequest("notification.endpoint.timeout must be a number of milliseconds in (0, 600000]."),
        };

        var receiverInfo = ParsePairs(endpoint["receiverInfo"], "receiverInfo");
        foreach (var (key, value) in receiverInfo)
        {
            // They become HTTP headers: refuse what a header cannot carry rather than fail at every notification.
            if (key.Length == 0 || key.Any(c => c <= ' ' || c >= 127 || "()<>@,;:\\\"/[]?={}".Contains(c, StringComparison.Ordinal)))
            {
                throw NgsiLdException.BadRequest($"receiverInfo key '{Short(key)}' is not a valid header name.");
            }

            if (value.Any(c => c is '\r' or '\n' or '\0'))
            {
                throw NgsiLdException.BadRequest($"receiverInfo value of '{Short(key)}' holds a line break.");
            }
        }

        var notifierInfo = ParsePairs(endpoint["notifierInfo"], "notifierInfo");
        foreach (var (key, value) in notifierInfo)
        {
            var valid = key switch
            {
                "MQTT-Version" => value is "mqtt3.1.1" or "mqtt5.0",
                "MQTT-QoS" => value is "0" or "1" or "2",
                _ => true,
            };
            if (!valid)
            {
                throw NgsiLdException.BadRequest($"notifierInfo {key} '{Short(value)}' is not valid (MQTT-Version: mqtt3.1.1 or mqtt5.0; MQTT-QoS: 0, 1 or 2).");
            }
        }

        return new NotificationEndpoint { Uri = uri, Accept = accept, ReceiverInfo = receiverInfo, NotifierInfo = notifierInfo, Timeout = timeout };
    }

    private static List<KeyValuePair<string, string>> ParsePairs(JsonNode? node, string member)
    {
        if (node is null)
        {
            return [];
        }

        if (node is not JsonArray array)
        {
            throw NgsiLdException.BadRequest($"notification.endpoint.{member} must be an array of {{\"key\", \"value\"}} objects.");
        }

        var pairs = new List<KeyValuePair<string, string>>(array.Count);
        foreach (var item in array)
        {
            if (item is not JsonObject pair || pair.Count != 2
                || pair["key"] is not JsonValue k || !k.TryGetValue<string>(out var key)
                || pair["value"] is not JsonValue v || !v.TryGetValue<string>(out var value))
            {
                throw NgsiLdException.BadRequest($"notification.endpoint.{member} must hold objects with exactly a string key and a string value.");
            }

            pairs.Add(new(key, value));
        }

        return pairs;
    }

    private static T ParseFilter<T>(Func<T> parse)
    {
        try
        {
            return parse();
        }
        catch (NgsiLdException)
        {
            throw;
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            throw NgsiLdException.BadRequest(e.Message);
        }
    }

    /// <summary>Parses an NGSI-LD DateTime member.</summary>
    public static DateTimeOffset ParseDateTime(string text, string member)
    {
        ArgumentNullException.ThrowIfNull(text);
        var normalized = Timestamps.NormalizeDateTime(text) ?? throw NgsiLdException.BadRequest($"{member} '{Short(text)}' is not a UTC DateTime such as 2030-01-01T00:00:00Z.");
        return DateTimeOffset.Parse(normalized, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
    }

    private static TimeSpan? PositiveSeconds(JsonObject document, string member)
    {
        return document[member] switch
        {
            null => null,
            JsonValue v when v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<double>(out var seconds) && seconds > 0 && seconds <= TimeSpan.MaxValue.TotalSeconds / 2 =>
                TimeSpan.FromSeconds(seconds),
            _ => throw NgsiLdException.BadRequest($"{member} must be a number of seconds greater than 0."),
        };
    }

    private static string RequiredString(JsonObject obj, string name, string member) =>
        OptionalString(obj, name, member) ?? throw NgsiLdException.BadRequest($"A subscription needs {member}.");

    private static string? OptionalString(JsonObject obj, string name, string? member = null) => obj[name] switch
    {
        null => null,
        JsonValue v when v.TryGetValue<string>(out var s) => s.Length > 0 ? s : throw NgsiLdException.BadRequest($"{member ?? name} must not be empty."),
        _ => throw NgsiLdException.BadRequest($"{member ?? name} must be a string."),
    };

    private static bool OptionalBool(JsonObject obj, string name, string member) => obj[name] switch
    {
        null => false,
        JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => v.GetValue<bool>(),
        _ => throw NgsiLdException.BadRequest($"{member} must be true or false."),
    };

    private static string Short(string text) => text.Length <= 80 ? text : text[..80] + "…";
}
