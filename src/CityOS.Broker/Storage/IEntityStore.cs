using System.Text.Json.Nodes;

namespace CityOS.Broker.Storage;

/// <summary>
/// The storage contract every backend implements (SQLite embedded, PostgreSQL). Entities are in the
/// internal expanded form (docs/internal-model.md). Every backend must pass the compliance suite in
/// tests/CityOS.Broker.ComplianceTests.
/// </summary>
public interface IEntityStore
{
    /// <summary>A short backend name for /health and /version ("sqlite", "postgres").</summary>
    string Name { get; }

    /// <summary>Creates or migrates the schema. Called once at start-up; fails with a clear message.</summary>
    Task InitializeAsync(CancellationToken cancellationToken);

    /// <summary>Readiness: true when the store answers a trivial query.</summary>
    Task<bool> IsReadyAsync(CancellationToken cancellationToken);

    /// <summary>True when the tenant has been created (by a first write). The default tenant ("") always exists.</summary>
    Task<bool> TenantExistsAsync(string tenant, CancellationToken cancellationToken);

    /// <summary>Every tenant that exists, the default one included.</summary>
    Task<IReadOnlyList<string>> ListTenantsAsync(CancellationToken cancellationToken);

    /// <summary>One entity by id, or null.</summary>
    Task<JsonObject?> GetEntityAsync(string tenant, string id, CancellationToken cancellationToken);

    /// <summary>
    /// Entities matching <paramref name="query"/>, in a stable order (creation order), paged by
    /// offset/limit, with the total count when asked. The store may push any part of the query down to
    /// its indexes but must return exactly what <see cref="EntityQuery.Matches"/> accepts.
    /// </summary>
    Task<EntityPage> QueryEntitiesAsync(string tenant, EntityQuery query, CancellationToken cancellationToken);

    /// <summary>
    /// Every entity of the tenant, in creation order, streamed in chunks so that memory stays bounded
    /// whatever the tenant's size (export, backup). Not a snapshot: each entity appears at most once, as
    /// it stood when its chunk was read; entities created or deleted meanwhile may or may not appear.
    /// A tenant that does not exist yields nothing.
    /// </summary>
    IAsyncEnumerable<JsonObject> ExportEntitiesAsync(string tenant, CancellationToken cancellationToken);

    /// <summary>
    /// Runs <paramref name="work"/> in one atomic, durable transaction on the tenant: all its writes are
    /// committed together or not at all, and are durable (survive kill -9) when the returned task completes.
    /// If <paramref name="work"/> throws, nothing it wrote is kept and the exception propagates.
    /// With <paramref name="createTenant"/> the tenant is created if missing; otherwise a missing tenant
    /// fails with NonexistentTenant before <paramref name="work"/> runs.
    /// A store may run <paramref name="work"/> more than once, in a fresh transaction, after a transient conflict
    /// (deadlock, serialization failure); so work must have no effects outside the session until it returns.
    /// </summary>
    Task<T> WriteAsync<T>(string tenant, bool createTenant, Func<IEntityWriteSession, CancellationToken, ValueTask<T>> work, CancellationToken cancellationToken);

    /// <summary>
    /// Runs <paramref name="work"/> in one atomic, durable transaction that may write to any number of tenants
    /// (a bulk import of a whole file): every write of every tenant, and every tenant it created, is committed
    /// together or not at all. Same guarantees as <see cref="WriteAsync"/> otherwise: durable when the returned
    /// task completes, nothing kept if <paramref name="work"/> throws, and <paramref name="work"/> may run more
    /// than once (each time in a fresh transaction) after a transient conflict.
    /// </summary>
    Task<T> WriteTenantsAsync<T>(Func<ITenantWriteSessions, CancellationToken, ValueTask<T>> work, CancellationToken cancellationToken);

    /// <summary>
    /// Per (entity type, attribute, attribute type): how many entities hold it. Drives /types and /attributes.
    /// An entity with no attributes still yields one row with a null attribute.
    /// </summary>
    Task<IReadOnlyList<AttributeUsage>> GetAttributeUsageAsync(string tenant, CancellationToken cancellationToken);
}

/// <summary>The tenants of one <see cref="IEntityStore.WriteTenantsAsync"/> transaction.</summary>
public interface ITenantWriteSessions
{
    /// <summary>
    /// The session of <paramref name="tenant"/> inside the transaction, the same one on every call for that tenant.
    /// With <paramref name="createTenant"/> the tenant is created (in the transaction) if missing; otherwise a missing
    /// tenant fails with NonexistentTenant. Sessions of different tenants may be used in any order.
    /// </summary>
    ValueTask<IEntityWriteSession> ForTenantAsync(string tenant, bool createTenant, CancellationToken cancellationToken);
}

/// <summary>Reads and writes inside one <see cref="IEntityStore.WriteAsync"/> transaction.</summary>
public interface IEntityWriteSession
{
    /// <summary>The entity as it stands in this transaction (including earlier writes of it), or null.</summary>
    ValueTask<JsonObject?> GetAsync(string id, CancellationToken cancellationToken);

    /// <summary>
    /// The entities of <paramref name="ids"/> as they stand in this transaction (including earlier writes of
    /// them), keyed by id; ids that do not exist are absent from the result. Equivalent to one
    /// <see cref="GetAsync"/> per id, but a store answers it in one go: a batch reads all its entities up
    /// front instead of one round trip each. Like <see cref="GetAsync"/>, a store that lets other writers
    /// run concurrently locks every found entity until the commit; it takes those locks in id order
    /// (ordinal), so two sessions locking overlapping sets wait for each other instead of deadlocking.
    /// </summary>
    ValueTask<IReadOnlyDictionary<string, JsonObject>> GetManyAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken);

    /// <summary>Inserts a new entity; false (and nothing written) when the id already exists.</summary>
    ValueTask<bool> InsertAsync(JsonObject entity, CancellationToken cancellationToken);

    /// <summary>Replaces the stored entity with the same id, which must exist (keeps its creation order).</summary>
    ValueTask UpdateAsync(JsonObject entity, CancellationToken cancellationToken);

    /// <summary>Deletes an entity; false when it did not exist.</summary>
    ValueTask<bool> DeleteAsync(string id, CancellationToken cancellationToken);

    /// <summary>Ids of all entities matching the query (paging ignored), for purge.</summary>
    ValueTask<IReadOnlyList<string>> QueryIdsAsync(EntityQuery query, CancellationToken cancellationToken);
}

/// <summary>One page of query results.</summary>
public sealed record EntityPage(IReadOnlyList<JsonObject> Entities, long? TotalCount);

/// <summary>How many entities of a type hold an attribute of a given attribute type.</summary>
public sealed record AttributeUsage(string EntityType, string? Attribute, string? AttributeType, long EntityCount);
