using System.Text.Json.Nodes;
using CityOS.Broker.Changes;
using CityOS.NgsiLd.Errors;
using CityOS.NgsiLd.Model;

namespace CityOS.Broker.Subscriptions;

/// <summary>Why one entity change notifies one subscription: the watched attributes it created, updated and deleted.</summary>
/// <param name="Change">The change.</param>
/// <param name="Created">Attribute IRIs that appeared.</param>
/// <param name="Updated">Attribute IRIs whose content changed.</param>
/// <param name="Deleted">Attribute IRIs that disappeared (reported only with the attributeDeleted trigger).</param>
public sealed record MatchedChange(EntityChange Change, IReadOnlyList<string> Created, IReadOnlyList<string> Updated, IReadOnlyList<string> Deleted);

/// <summary>
/// Decides whether an entity change notifies an on-change subscription (§5.8.x, notificationTrigger §5.2.12):
/// the entity must be selected, a trigger must fire for a watched attribute, and q, scopeQ and geoQ must hold
/// on the entity after the change (before it, for a deletion). An attribute counts as updated only when its
/// content differs: re-sending the same value (a new modifiedAt only) notifies nothing, as the spec asks for a
/// different value (Orion-LD's "-noNotifyFalseUpdate" behaviour; FACTS §8).
/// </summary>
public static class SubscriptionMatcher
{
    private static readonly IReadOnlyList<string> NoNames = [];

    /// <summary>The match of <paramref name="change"/> for <paramref name="subscription"/>, or null when it does not notify.</summary>
    public static MatchedChange? Match(Subscription subscription, EntityChange change)
    {
        ArgumentNullException.ThrowIfNull(subscription);
        ArgumentNullException.ThrowIfNull(change);
        if (subscription.TimeInterval is not null)
        {
            return null;
        }

        var entity = change.After ?? change.Before;
        if (entity is null || !Selected(subscription, change.EntityId, entity))
        {
            return null;
        }

        var triggers = subscription.Triggers;
        var watched = subscription.WatchedAttributes;
        MatchedChange? match;
        switch (change.Kind)
        {
            case EntityChangeKind.Created:
            {
                var created = Attributes(change.After!, watched);
                var fires = ((triggers & NotificationTriggers.EntityCreated) != 0 && (watched is null || created.Count > 0))
                    || ((triggers & NotificationTriggers.AttributeCreated) != 0 && created.Count > 0);
                match = fires ? new MatchedChange(change, created, NoNames, NoNames) : null;
                break;
            }

            case EntityChangeKind.Deleted:
            {
                var fires = (triggers & NotificationTriggers.EntityDeleted) != 0 && (watched is null || Attributes(change.Before!, watched).Count > 0);
                match = fires ? new MatchedChange(change, NoNames, NoNames, NoNames) : null;
                break;
            }

            default:
                match = MatchUpdate(change, triggers, watched);
                break;
        }

        return match is not null && Filters(subscription, entity) ? match : null;
    }

    private static MatchedChange? MatchUpdate(EntityChange change, NotificationTriggers triggers, IReadOnlySet<string>? watched)
    {
        var before = change.Before!;
        var after = change.After!;
        List<string>? created = null, updated = null, deleted = null;
        foreach (var (name, node) in after)
        {
            if (!IsAttribute(name) || (watched is not null && !watched.Contains(name)))
            {
                continue;
            }

            if (before[name] is not JsonArray old)
            {
                (created ??= []).Add(name);
            }
            else if (!SameInstances(old, node as JsonArray))
            {
                (updated ??= []).Add(name);
            }
        }

        foreach (var (name, _) in before)
        {
            if (IsAttribute(name) && !after.ContainsKey(name) && (watched is null || watched.Contains(name)))
            {
                (deleted ??= []).Add(name);
            }
        }

        var fires = ((triggers & NotificationTriggers.AttributeCreated) != 0 && created is not null)
            || ((triggers & NotificationTriggers.AttributeUpdated) != 0 && updated is not null)
            || ((triggers & NotificationTriggers.AttributeDeleted) != 0 && deleted is not null);
        if (!fires)
        {
            return null;
        }

        // Deleted attributes are reported only to subscriptions that asked for them.
        return new MatchedChange(
            change,
            (IReadOnlyList<string>?)created ?? NoNames,
            (IReadOnlyList<string>?)updated ?? NoNames,
            (triggers & NotificationTriggers.AttributeDeleted) != 0 ? (IReadOnlyList<string>?)deleted ?? NoNames : NoNames);
    }

    /// <summary>True when the entity is selected by <c>entities</c> (any element) or there are none.</summary>
    public static bool Selected(Subscription subscription, string id, JsonObject entity)
    {
        ArgumentNullException.ThrowIfNull(subscription);
        ArgumentNullException.ThrowIfNull(entity);
        if (subscription.Entities.Count == 0)
        {
            return true;
        }

        var types = entity[Names.Type] as JsonArray ?? [];
        foreach (var selector in subscription.Entities)
        {
            if (selector.Matches(id, types))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>True when q, scopeQ and geoQ (those given) hold on <paramref name="entity"/>.</summary>
    public static bool Filters(Subscription subscription, JsonObject entity)
    {
        ArgumentNullException.ThrowIfNull(subscription);
        try
        {
            return (subscription.ScopeQ is null || subscription.ScopeQ.Matches(entity[Names.Scope] as JsonArray))
                && (subscription.Q is null || subscription.Q.Matches(entity))
                && (subscription.GeoQ is null || subscription.GeoQ.Matches(entity));
        }
        catch (NgsiLdException)
        {
            // A filter that cannot be evaluated on this entity (e.g. a pattern that times out) selects nothing.
            return false;
        }
    }

    private static List<string> Attributes(JsonObject entity, IReadOnlySet<string>? watched)
    {
        var names = new List<string>();
        foreach (var (name, _) in entity)
        {
            if (IsAttribute(name) && (watched is null || watched.Contains(name)))
            {
                names.Add(name);
            }
        }

        return names;
    }

    /// <summary>Per the internal model, a member whose name holds ':' is an attribute (IRIs always do).</summary>
    private static bool IsAttribute(string name) => name.Contains(':', StringComparison.Ordinal);

    /// <summary>True when two attributes hold the same instances, apart from system timestamps (matched by datasetId).</summary>
    public static bool SameInstances(JsonArray? a, JsonArray? b)
    {
        if (a is null || b is null)
        {
            return a is null && b is null;
        }

        if (a.Count != b.Count)
        {
            return false;
        }

        foreach (var node in a)
        {
            if (node is not JsonObject instance)
            {
                return false;
            }

            var datasetId = (string?)instance[Names.DatasetId];
            var other = Instances.Find(b, datasetId);
            if (other is null || !SameInstance(instance, other))
            {
                return false;
            }
        }

        return true;
    }

    private static bool SameInstance(JsonObject a, JsonObject b)
    {
        foreach (var (name, value) in a)
        {
            if (name is Names.CreatedAt or Names.ModifiedAt)
            {
                continue;
            }

            if (!b.TryGetPropertyValue(name, out var other))
            {
                return false;
            }

            var same = IsAttribute(name) ? SameInstances(value as JsonArray, other as JsonArray) : JsonNode.DeepEquals(value, other);
            if (!same)
            {
                return false;
            }
        }

        foreach (var (name, _) in b)
        {
            if (name is not (Names.CreatedAt or Names.ModifiedAt) && !a.ContainsKey(name))
            {
                return false;
            }
        }

        return true;
    }
}
