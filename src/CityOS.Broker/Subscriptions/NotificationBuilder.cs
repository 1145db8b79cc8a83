using System.Text.Json.Nodes;
using CityOS.Broker.Changes;
using CityOS.NgsiLd.JsonLd;
using CityOS.NgsiLd.Model;

namespace CityOS.Broker.Subscriptions;

/// <summary>
/// Builds the Notification (§5.3.1) of a subscription for the changes that matched it: the entities after the
/// change rendered with the subscription's attributes, format, sysAttrs and lang and compacted with its
/// @context; deleted attributes as the NGSI-LD Null; deleted entities as id, type and deletedAt; with
/// showChanges the previous content of each changed attribute.
/// </summary>
public static class NotificationBuilder
{
    private const string NotificationPrefix = "urn:ngsi-ld:Notification:";

    /// <summary>The notification body (with @context for application/ld+json).</summary>
    public static JsonObject Build(Subscription subscription, LdContext context, IReadOnlyList<MatchedChange> changes, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(subscription);
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(changes);
        var entities = new List<JsonObject>(changes.Count);
        foreach (var change in changes)
        {
            entities.Add(RenderChange(subscription, context, change));
        }

        return Wrap(subscription, context, entities, now);
    }

    /// <summary>The notification of a periodic subscription: <paramref name="entities"/> as they are now.</summary>
    public static JsonObject BuildPeriodic(Subscription subscription, LdContext context, IEnumerable<JsonObject> entities, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(subscription);
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(entities);
        var options = Options(subscription);
        return Wrap(subscription, context, [.. entities.Select(e => EntityRenderer.Render(e, context, options))], now);
    }

    private static JsonObject Wrap(Subscription subscription, LdContext context, List<JsonObject> entities, DateTimeOffset now)
    {
        JsonNode data;
        if (subscription.Endpoint.Accept == "application/geo+json")
        {
            var features = new JsonArray();
            foreach (var entity in entities)
            {
                features.Add(ToFeature(entity, context));
            }

            data = new JsonObject { [Names.Type] = "FeatureCollection", ["features"] = features };
        }
        else
        {
            data = new JsonArray([.. entities]);
        }

        var notification = new JsonObject
        {
            [Names.Id] = NotificationPrefix + Guid.NewGuid().ToString("D"),
            [Names.Type] = "Notification",
            ["subscriptionId"] = subscription.Id,
            ["notifiedAt"] = Timestamps.Format(now),
            ["data"] = data,
        };
        if (subscription.Endpoint.Accept != "application/json")
        {
            notification["@context"] = context.ContextNode;
        }

        return notification;
    }

    private static JsonObject ToFeature(JsonObject rendered, LdContext context)
    {
        var properties = new JsonObject();
        JsonNode? geometry = null;
        var location = context.CompactIri(Names.LocationIri);
        foreach (var (name, value) in rendered.ToList())
        {
            if (name == Names.Id)
            {
                continue;
            }

            rendered.Remove(name);
            if (name == location && geometry is null)
            {
                geometry = value is JsonObject { } o && o[Names.Value] is JsonObject g ? g.DeepClone() : value is JsonObject kv && kv.ContainsKey("coordinates") ? kv.DeepClone() : null;
            }

            properties[name] = value;
        }

        return new JsonObject
        {
            [Names.Id] = rendered[Names.Id]?.DeepClone(),
            [Names.Type] = "Feature",
            ["geometry"] = geometry,
            ["properties"] = properties,
        };
    }

    private static RenderOptions Options(Subscription subscription)
    {
        HashSet<string>? pick = null;
        if (subscription.Attributes is not null)
        {
            pick = new HashSet<string>(subscription.Attributes, StringComparer.Ordinal) { Names.Id, Names.Type, Names.Scope };
        }

        return new RenderOptions
        {
            Representation = subscription.Format,
            SysAttrs = subscription.SysAttrs,
            Pick = pick,
            Lang = subscription.Lang,
        };
    }

    private static JsonObject RenderChange(Subscription subscription, LdContext context, MatchedChange match)
    {
        var change = match.Change;
        if (change.Kind == EntityChangeKind.Deleted)
        {
            return RenderDeletedEntity(subscription, context, change);
        }

        var options = Options(subscription);
        var rendered = EntityRenderer.Render(change.After!, context, options);
        if (subscription.ShowChanges && change.Before is { } before && subscription.Format != Representation.KeyValues)
        {
            foreach (var name in match.Updated)
            {
                AddPrevious(rendered, context.CompactIri(name), before[name] as JsonArray, context);
            }
        }

        foreach (var name in match.Deleted)
        {
            if (subscription.Attributes is not null && !subscription.Attributes.Contains(name))
            {
                continue;
            }

            rendered[context.CompactIri(name)] = DeletedAttribute(subscription, change, change.Before?[name] as JsonArray, context);
        }

        return rendered;
    }

    private static JsonObject RenderDeletedEntity(Subscription subscription, LdContext context, EntityChange change)
    {
        JsonObject rendered;
        if (subscription.ShowChanges && change.Before is { } before)
        {
            // The entity as it was, so that the receiver learns what went away.
            rendered = EntityRenderer.Render(before, context, Options(subscription));
        }
        else
        {
            var types = change.Before?[Names.Type] as JsonArray ?? [];
            rendered = new JsonObject
            {
                [Names.Id] = change.EntityId,
                [Names.Type] = types.Count == 1
                    ? context.CompactIri((string)types[0]!)
                    : new JsonArray([.. types.Select(t => (JsonNode?)context.CompactIri((string)t!))]),
            };
        }

        rendered[Names.DeletedAt] = Timestamps.Format(change.At);
        return rendered;
    }

    private static JsonNode DeletedAttribute(Subscription subscription, EntityChange change, JsonArray? before, LdContext context)
    {
        if (subscription.Format == Representation.KeyValues || (!subscription.SysAttrs && !subscription.ShowChanges))
        {
            return JsonValue.Create(Names.NgsiLdNull);
        }

        var previous = before?.FirstOrDefault() as JsonObject;
        var type = previous is null ? Names.Property : Instances.TypeOf(previous) ?? Names.Property;
        var member = Names.ContentMember(type) ?? Names.Value;
        var output = new JsonObject
        {
            [Names.Type] = type,
            [member] = type == Names.LanguageProperty ? new JsonObject { ["@none"] = Names.NgsiLdNull } : JsonValue.Create(Names.NgsiLdNull),
        };
        if (subscription.SysAttrs)
        {
            output[Names.DeletedAt] = Timestamps.Format(change.At);
        }

        if (subscription.ShowChanges && previous?[member] is { } old)
        {
            output[Previous(member)] = Compact(type, old, context);
        }

        return output;
    }

    private static void AddPrevious(JsonObject rendered, string key, JsonArray? before, LdContext context)
    {
        if (before is null)
        {
            return;
        }

        switch (rendered[key])
        {
            case JsonObject instance:
                AddPrevious(instance, before, context);
                break;
            case JsonArray instances:
                foreach (var item in instances)
                {
                    if (item is JsonObject instance)
                    {
                        AddPrevious(instance, before, context);
                    }
                }

                break;
        }
    }

    private static void AddPrevious(JsonObject instance, JsonArray before, LdContext context)
    {
        var datasetId = instance[Names.DatasetId] is JsonValue d && d.TryGetValue<string>(out var text) ? context.ExpandTerm(text) : null;
        var old = Instances.Find(before, datasetId) ?? (datasetId is null ? null : Instances.Find(before, (string?)instance[Names.DatasetId]));
        if (old is null)
        {
            return;
        }

        var type = Instances.TypeOf(old) ?? Names.Property;
        var member = Names.ContentMember(type) ?? Names.Value;
        if (old[member] is { } content)
        {
            instance[Previous(member)] = Compact(type, content, context);
        }
    }

    private static JsonNode Compact(string type, JsonNode content, LdContext context)
    {
        if (type != Names.VocabProperty)
        {
            return content.DeepClone();
        }

        return content switch
        {
            JsonValue v when v.TryGetValue<string>(out var iri) => JsonValue.Create(context.CompactVocabValue(iri)),
            JsonArray a => new JsonArray([.. a.Select(n => n is JsonValue v && v.TryGetValue<string>(out var iri) ? (JsonNode)JsonValue.Create(context.CompactVocabValue(iri)) : n?.DeepClone())]),
            _ => content.DeepClone(),
        };
    }

    // previousValue, previousObject, previousLanguageMap, previousVocab, previousJson, previousValueList, previousObjectList.
    private static string Previous(string member) => "previous" + char.ToUpperInvariant(member[0]) + member[1..];
}
