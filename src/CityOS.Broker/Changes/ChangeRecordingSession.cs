using System.Text.Json.Nodes;
using CityOS.Broker.Storage;
using CityOS.NgsiLd.Model;

namespace CityOS.Broker.Changes;

/// <summary>
/// A write session that passes every call to the store's session and records, for each write, the entity before
/// and after it. The "before" of an entity is a copy taken when it is first read (the broker edits what it reads
/// in place); a write of an entity not read before reads it first.
/// </summary>
internal sealed class ChangeRecordingSession : IEntityWriteSession
{
    private readonly IEntityWriteSession _inner;
    private readonly string _tenant;
    private readonly TimeProvider _time;

    // The entity as it stands in this transaction, per id read or written (null: known absent).
    private readonly Dictionary<string, JsonObject?> _current = new(StringComparer.Ordinal);
    private readonly List<EntityChange> _changes = [];

    public ChangeRecordingSession(IEntityWriteSession inner, string tenant, TimeProvider time)
    {
        _inner = inner;
        _tenant = tenant;
        _time = time;
    }

    /// <summary>The store's own session.</summary>
    public IEntityWriteSession Inner => _inner;

    /// <summary>The writes recorded so far, in order.</summary>
    public IReadOnlyList<EntityChange> Changes => _changes;

    public async ValueTask<JsonObject?> GetAsync(string id, CancellationToken cancellationToken)
    {
        var entity = await _inner.GetAsync(id, cancellationToken).ConfigureAwait(false);
        _current[id] = entity?.DeepClone().AsObject();
        return entity;
    }

    public async ValueTask<IReadOnlyDictionary<string, JsonObject>> GetManyAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var found = await _inner.GetManyAsync(ids, cancellationToken).ConfigureAwait(false);
        foreach (var id in ids)
        {
            _current[id] = found.TryGetValue(id, out var entity) ? entity.DeepClone().AsObject() : null;
        }

        return found;
    }

    public async ValueTask<bool> InsertAsync(JsonObject entity, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entity);
        if (!await _inner.InsertAsync(entity, cancellationToken).ConfigureAwait(false))
        {
            return false;
        }

        Record(EntityChangeKind.Created, (string)entity[Names.Id]!, null, entity);
        return true;
    }

    public async ValueTask UpdateAsync(JsonObject entity, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entity);
        var id = (string)entity[Names.Id]!;
        var before = await BeforeAsync(id, cancellationToken).ConfigureAwait(false);
        await _inner.UpdateAsync(entity, cancellationToken).ConfigureAwait(false);
        Record(EntityChangeKind.Updated, id, before, entity);
    }

    public async ValueTask<bool> DeleteAsync(string id, CancellationToken cancellationToken)
    {
        var before = await BeforeAsync(id, cancellationToken).ConfigureAwait(false);
        if (!await _inner.DeleteAsync(id, cancellationToken).ConfigureAwait(false))
        {
            _current[id] = null;
            return false;
        }

        Record(EntityChangeKind.Deleted, id, before, null);
        return true;
    }

    public ValueTask<IReadOnlyList<string>> QueryIdsAsync(EntityQuery query, CancellationToken cancellationToken) =>
        _inner.QueryIdsAsync(query, cancellationToken);

    private async ValueTask<JsonObject?> BeforeAsync(string id, CancellationToken cancellationToken)
    {
        if (_current.TryGetValue(id, out var known))
        {
            return known;
        }

        var stored = await _inner.GetAsync(id, cancellationToken).ConfigureAwait(false);
        _current[id] = stored;
        return stored;
    }

    private void Record(EntityChangeKind kind, string id, JsonObject? before, JsonObject? after)
    {
        // The broker does not touch an entity after writing it, so the written object can stand for "after" and
        // for the "before" of a later write of the same id in this transaction.
        _current[id] = after;
        _changes.Add(new EntityChange(_tenant, id, kind, before, after, _time.GetUtcNow()));
    }
}
