using System.Text.Json.Nodes;

namespace CityOS.Broker.Changes;

/// <summary>What a write did to one entity.</summary>
public enum EntityChangeKind
{
    /// <summary>The entity did not exist before the write.</summary>
    Created,

    /// <summary>The entity existed before and after the write (any attribute or scope change, or a replace).</summary>
    Updated,

    /// <summary>The entity existed before and is gone.</summary>
    Deleted,
}

/// <summary>
/// One write of one entity inside a store transaction, as the broker saw it: the entity before and after, in
/// the internal form (docs/internal-model.md). Subscriptions (notifications) and the temporal history are
/// derived from these. The documents are owned by the change: observers must not modify them.
/// </summary>
/// <param name="Tenant">The tenant written ("" for the default one).</param>
/// <param name="EntityId">The entity's id.</param>
/// <param name="Kind">Created, updated or deleted.</param>
/// <param name="Before">The entity before the write; null when created.</param>
/// <param name="After">The entity after the write; null when deleted.</param>
/// <param name="At">When the write happened (the broker's clock; the modifiedAt it stamped, for creates and updates).</param>
public sealed record EntityChange(string Tenant, string EntityId, EntityChangeKind Kind, JsonObject? Before, JsonObject? After, DateTimeOffset At);
