using System.Text.Json.Nodes;
using CityOS.Broker.Storage;

namespace CityOS.Storage.Sqlite.Internal;

/// <summary>
/// The session handed to one work item. Everything runs synchronously on the writer connection inside the
/// item's savepoint, so the ValueTasks complete at once; the session refuses use after its item ended.
/// </summary>
internal sealed class EntityWriteSession : IEntityWriteSession
{
    private readonly WriterConnection _connection;
    private readonly long _tenant;
    private bool _closed;

    public EntityWriteSession(WriterConnection connection, long tenant)
    {
        _connection = connection;
        _tenant = tenant;
    }

    public void Close() => _closed = true;

    /// <summary>The writer connection, for other features' writes in this item's savepoint (checked open).</summary>
    public WriterConnection Connection
    {
        get
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            return _connection;
        }
    }

    /// <summary>The tenant's row id.</summary>
    public long TenantId => _tenant;

    public ValueTask<JsonObject?> GetAsync(string id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(id);
        Check(cancellationToken);
        return ValueTask.FromResult(_connection.GetEntity(_tenant, id));
    }

    public ValueTask<IReadOnlyDictionary<string, JsonObject>> GetManyAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ids);
        Check(cancellationToken);
        // One writer at a time holds the database, so there is nothing to lock and no round trip to save:
        // each id is one indexed lookup on the writer connection.
        var found = new Dictionary<string, JsonObject>(ids.Count, StringComparer.Ordinal);
        foreach (var id in ids)
        {
            ArgumentNullException.ThrowIfNull(id, nameof(ids));
            if (!found.ContainsKey(id) && _connection.GetEntity(_tenant, id) is { } entity)
            {
                found.Add(id, entity);
            }
        }

        return ValueTask.FromResult<IReadOnlyDictionary<string, JsonObject>>(found);
    }

    public ValueTask<bool> InsertAsync(JsonObject entity, CancellationToken cancellationToken)
    {
        Check(cancellationToken);
        return ValueTask.FromResult(_connection.InsertEntity(_tenant, entity));
    }

    public ValueTask UpdateAsync(JsonObject entity, CancellationToken cancellationToken)
    {
        Check(cancellationToken);
        _connection.UpdateEntity(_tenant, entity);
        return ValueTask.CompletedTask;
    }

    public ValueTask<bool> DeleteAsync(string id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(id);
        Check(cancellationToken);
        return ValueTask.FromResult(_connection.DeleteEntity(_tenant, id));
    }

    public ValueTask<IReadOnlyList<string>> QueryIdsAsync(EntityQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        Check(cancellationToken);
        IReadOnlyList<string> ids = EntityQueryExecutor.Ids(_connection, _tenant, query, query.Matches, cancellationToken);
        return ValueTask.FromResult(ids);
    }

    private void Check(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_closed, this);
        cancellationToken.ThrowIfCancellationRequested();
    }
}
