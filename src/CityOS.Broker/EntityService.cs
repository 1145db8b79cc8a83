using System.Text.Json.Nodes;
using CityOS.Broker.Changes;
using CityOS.Broker.Storage;
using CityOS.NgsiLd.Errors;
using CityOS.NgsiLd.Model;

namespace CityOS.Broker;

/// <summary>
/// The broker's entity operations (§5.6, §5.7): the NGSI-LD semantics of every write and read, on top of the
/// storage contract. Each call is one atomic store transaction; a batch is one transaction whose items succeed
/// or fail one by one.
/// </summary>
public sealed partial class EntityService
{
    private readonly IEntityStore _store;
    private readonly TimeProvider _time;
    private readonly IEntityChangeObserver[] _observers;

    /// <summary>The service over <paramref name="store"/>, with no change observers.</summary>
    public EntityService(IEntityStore store, TimeProvider time)
        : this(store, time, [])
    {
    }

    /// <summary>The service over <paramref name="store"/>; every write's changes go to <paramref name="observers"/>.</summary>
    public EntityService(IEntityStore store, TimeProvider time, IEnumerable<IEntityChangeObserver> observers)
    {
        _store = store;
        _time = time;
        _observers = [.. observers];
    }

    private DateTimeOffset Now => _time.GetUtcNow();

    /// <summary>Create Entity (§5.6.1): AlreadyExists when the id is taken. Creates the tenant on first use.</summary>
    public async Task CreateAsync(string tenant, JsonObject entity, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entity);
        Timestamps.Stamp(entity, Now);
        var created = await WriteAsync(tenant, createTenant: true, (s, ct) => s.InsertAsync(entity, ct), cancellationToken);
        if (!created)
        {
            throw new NgsiLdException(ErrorType.AlreadyExists, $"Entity '{(string?)entity[Names.Id]}' already exists.");
        }
    }

    /// <summary>Retrieve Entity (§5.7.1).</summary>
    public async Task<JsonObject> RetrieveAsync(string tenant, string id, CancellationToken cancellationToken)
    {
        await EnsureTenantAsync(tenant, cancellationToken);
        return await _store.GetEntityAsync(tenant, id, cancellationToken) ?? throw EntityNotFound(id);
    }

    /// <summary>Query Entities (§5.7.2).</summary>
    public async Task<EntityPage> QueryAsync(string tenant, EntityQuery query, CancellationToken cancellationToken)
    {
        await EnsureTenantAsync(tenant, cancellationToken);
        return await _store.QueryEntitiesAsync(tenant, query, cancellationToken);
    }

    /// <summary>Replace Entity (§5.6.18): every attribute replaced, createdAt kept.</summary>
    public Task ReplaceAsync(string tenant, JsonObject entity, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entity);
        var id = (string)entity[Names.Id]!;
        var now = Now;
        return WriteAsync(tenant, createTenant: false, async (s, ct) =>
        {
            var existing = await s.GetAsync(id, ct) ?? throw EntityNotFound(id);
            await s.UpdateAsync(EntityMerge.Replace(existing, entity, now), ct);
            return true;
        }, cancellationToken);
    }

    /// <summary>Merge Entity (§5.6.17, PATCH /entities/{id}).</summary>
    public Task MergeAsync(string tenant, string id, JsonObject fragment, bool keyValues, CancellationToken cancellationToken)
    {
        var now = Now;
        return WriteAsync(tenant, createTenant: false, async (s, ct) =>
        {
            var existing = await s.GetAsync(id, ct) ?? throw EntityNotFound(id);
            await s.UpdateAsync(EntityMerge.Merge(existing, fragment, now, keyValues).Entity, ct);
            return true;
        }, cancellationToken);
    }

    /// <summary>Append Entity Attributes (§5.6.3, POST /attrs).</summary>
    public Task<UpdateResult> AppendAsync(string tenant, string id, JsonObject fragment, bool noOverwrite, CancellationToken cancellationToken) =>
        UpdateWithAsync(tenant, id, existing => EntityMerge.Append(existing, fragment, noOverwrite, Now), cancellationToken);

    /// <summary>Update Entity Attributes (§5.6.2, PATCH /attrs): only attributes that exist are replaced.</summary>
    public Task<UpdateResult> UpdateAttributesAsync(string tenant, string id, JsonObject fragment, CancellationToken cancellationToken) =>
        UpdateWithAsync(tenant, id, existing => EntityMerge.UpdateExisting(existing, fragment, Now), cancellationToken);

    private Task<UpdateResult> UpdateWithAsync(string tenant, string id, Func<JsonObject, EntityUpdate> change, CancellationToken cancellationToken) =>
        WriteAsync(tenant, createTenant: false, async (s, ct) =>
        {
            var existing = await s.GetAsync(id, ct) ?? throw EntityNotFound(id);
            var update = change(existing);
            if (update.Updated.Count > 0)
            {
                await s.UpdateAsync(update.Entity, ct);
            }

            return ToResult(update);
        }, cancellationToken);

    private static UpdateResult ToResult(EntityUpdate update) =>
        new(update.Updated, update.NotUpdated.Select(n => new NotUpdated(n.AttributeIri, n.Reason)).ToList());

    /// <summary>Partial Attribute Update (§5.6.4, PATCH /attrs/{attrId}): only the members sent change.</summary>
    public Task PartialAttributeUpdateAsync(string tenant, string id, string attribute, JsonArray instances, CancellationToken cancellationToken)
    {
        var now = Now;
        return WriteAsync(tenant, createTenant: false, async (s, ct) =>
        {
            var existing = await s.GetAsync(id, ct) ?? throw EntityNotFound(id);
            if (!EntityMerge.PartialAttributeUpdate(existing, attribute, instances, now, out var update) || update is null)
            {
                throw AttributeNotFound(id, attribute);
            }

            await s.UpdateAsync(update.Entity, ct);
            return true;
        }, cancellationToken);
    }

    /// <summary>Delete Entity (§5.6.6).</summary>
    public async Task DeleteAsync(string tenant, string id, CancellationToken cancellationToken)
    {
        var deleted = await WriteAsync(tenant, createTenant: false, (s, ct) => s.DeleteAsync(id, ct), cancellationToken);
        if (!deleted)
        {
            throw EntityNotFound(id);
        }
    }

    /// <summary>Purge Entities (DELETE /entities): deletes every entity the query matches; returns how many.</summary>
    public Task<int> PurgeAsync(string tenant, EntityQuery query, CancellationToken cancellationToken) =>
        WriteAsync(tenant, createTenant: false, async (s, ct) =>
        {
            var ids = await s.QueryIdsAsync(query, ct);
            foreach (var id in ids)
            {
                await s.DeleteAsync(id, ct);
            }

            return ids.Count;
        }, cancellationToken);

    /// <summary>
    /// Replace Attribute (§5.6.19, PUT /attrs/{attrId}): the attribute must exist; the instances sent replace
    /// whole the instance(s) with the same datasetId.
    /// </summary>
    public Task ReplaceAttributeAsync(string tenant, string id, string attribute, JsonArray instances, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instances);
        var now = Now;
        return WriteAsync(tenant, createTenant: false, async (s, ct) =>
        {
            var existing = await s.GetAsync(id, ct) ?? throw EntityNotFound(id);
            if (!existing.ContainsKey(attribute))
            {
                throw AttributeNotFound(id, attribute);
            }

            var fragment = new JsonObject { [attribute] = instances.DeepClone() };
            await s.UpdateAsync(EntityMerge.Append(existing, fragment, noOverwrite: false, now).Entity, ct);
            return true;
        }, cancellationToken);
    }

    /// <summary>
    /// Delete Attribute (§5.6.5): the default instance, the instance with <paramref name="datasetId"/>, or
    /// with <paramref name="deleteAll"/> every instance. ResourceNotFound when nothing matches.
    /// </summary>
    public Task DeleteAttributeAsync(string tenant, string id, string attribute, string? datasetId, bool deleteAll, CancellationToken cancellationToken)
    {
        var now = Now;
        return WriteAsync(tenant, createTenant: false, async (s, ct) =>
        {
            var entity = await s.GetAsync(id, ct) ?? throw EntityNotFound(id);
            if (entity[attribute] is not JsonArray instances)
            {
                throw AttributeNotFound(id, attribute);
            }

            if (deleteAll)
            {
                entity.Remove(attribute);
            }
            else
            {
                var index = Instances.IndexOf(instances, datasetId);
                if (index < 0)
                {
                    throw NgsiLdException.NotFound(datasetId is null
                        ? $"Attribute '{attribute}' of entity '{id}' has no default instance."
                        : $"Attribute '{attribute}' of entity '{id}' has no instance with datasetId '{datasetId}'.");
                }

                instances.RemoveAt(index);
                if (instances.Count == 0)
                {
                    entity.Remove(attribute);
                }
            }

            entity[Names.ModifiedAt] = Timestamps.Format(now);
            await s.UpdateAsync(entity, ct);
            return true;
        }, cancellationToken);
    }

    /// <summary>One store transaction, its changes shown to the observers.</summary>
    private Task<T> WriteAsync<T>(string tenant, bool createTenant, Func<IEntityWriteSession, CancellationToken, ValueTask<T>> work, CancellationToken cancellationToken) =>
        ObservedEntityStore.WriteAsync(_store, _observers, _time, tenant, createTenant, work, cancellationToken);

    private async Task EnsureTenantAsync(string tenant, CancellationToken cancellationToken)
    {
        if (!await _store.TenantExistsAsync(tenant, cancellationToken))
        {
            throw TenantNotFound(tenant);
        }
    }

    internal static NgsiLdException EntityNotFound(string id) => NgsiLdException.NotFound($"Entity '{id}' does not exist.");

    internal static NgsiLdException AttributeNotFound(string id, string attribute) =>
        NgsiLdException.NotFound($"Entity '{id}' has no attribute '{attribute}'.");

    internal static NgsiLdException TenantNotFound(string tenant) =>
        new(ErrorType.NonexistentTenant, $"Tenant '{tenant}' does not exist.");
}
