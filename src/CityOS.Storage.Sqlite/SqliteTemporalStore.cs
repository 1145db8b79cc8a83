using System.Text.Json;
using CityOS.Broker.Storage;
using CityOS.Storage.Sqlite.Internal;
using Microsoft.Data.Sqlite;

namespace CityOS.Storage.Sqlite;

/// <summary>
/// The attribute history in the same SQLite database as the entities: writes run on the single writer inside the
/// entity transaction's savepoint (prepared statements, no round trips), reads on the pooled read connections.
/// </summary>
public sealed class SqliteTemporalStore : ITemporalStore
{
    private const string InsertSql = """
        INSERT INTO temporal_instances(tenant, entity, attr, dataset, observed_at, created_at, modified_at, deleted_at, num, doc)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
        """;

    private const string PutTypesSql = """
        INSERT INTO temporal_entities(tenant, id, types) VALUES (?1, ?2, ?3)
        ON CONFLICT(tenant, id) DO UPDATE SET types = excluded.types
        """;

    private const string Columns = "iid, attr, dataset, observed_at, created_at, modified_at, deleted_at, doc";

    private readonly SqliteEntityStore _store;

    /// <summary>Keeps the history in <paramref name="store"/>'s database.</summary>
    public SqliteTemporalStore(SqliteEntityStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
    }

    /// <inheritdoc />
    public ValueTask AppendAsync(IEntityWriteSession session, IReadOnlyList<TemporalEntityTypes> entities, IReadOnlyList<TemporalRow> rows, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entities);
        ArgumentNullException.ThrowIfNull(rows);
        var (connection, tenant) = Open(session, cancellationToken);
        if (entities.Count > 0)
        {
            var put = connection.Statement(PutTypesSql);
            foreach (var entity in entities)
            {
                put.Bind(1, tenant).Bind(2, entity.EntityId).Bind(3, JsonSerializer.Serialize(entity.Types, TemporalJson.Default.IReadOnlyListString)).Execute();
            }
        }

        // One prepared insert stepped per row: in-process, that is cheaper than building a multi-row statement.
        var insert = connection.Statement(InsertSql);
        foreach (var row in rows)
        {
            Bind(insert, tenant, row).Execute();
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask<StoredInstance?> GetInstanceAsync(IEntityWriteSession session, string entityId, string attribute, long instanceId, CancellationToken cancellationToken)
    {
        var (connection, tenant) = Open(session, cancellationToken);
        var command = connection.Command($"SELECT {Columns} FROM temporal_instances WHERE iid = $i AND tenant = $t AND entity = $e AND attr = $a");
        AddKey(command, tenant, entityId, attribute);
        command.Parameters.AddWithValue("$i", instanceId);
        return ValueTask.FromResult(ReadOne(command));
    }

    /// <inheritdoc />
    public ValueTask<bool> ReplaceInstanceAsync(IEntityWriteSession session, string entityId, string attribute, long instanceId, TemporalRow row, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(row);
        var (connection, tenant) = Open(session, cancellationToken);
        var command = connection.Command("""
            UPDATE temporal_instances SET dataset = $d, observed_at = $o, created_at = $c, modified_at = $m, deleted_at = $x, num = $n, doc = $doc
            WHERE iid = $i AND tenant = $t AND entity = $e AND attr = $a
            """);
        AddKey(command, tenant, entityId, attribute);
        command.Parameters.AddWithValue("$i", instanceId);
        command.Parameters.AddWithValue("$d", (object?)row.DatasetId ?? DBNull.Value);
        command.Parameters.AddWithValue("$o", (object?)row.ObservedAt ?? DBNull.Value);
        command.Parameters.AddWithValue("$c", row.CreatedAt);
        command.Parameters.AddWithValue("$m", row.ModifiedAt);
        command.Parameters.AddWithValue("$x", (object?)row.DeletedAt ?? DBNull.Value);
        command.Parameters.AddWithValue("$n", (object?)row.Number ?? DBNull.Value);
        command.Parameters.AddWithValue("$doc", row.Instance);
        return ValueTask.FromResult(Execute(command) > 0);
    }

    /// <inheritdoc />
    public ValueTask<bool> DeleteInstanceAsync(IEntityWriteSession session, string entityId, string attribute, long instanceId, CancellationToken cancellationToken)
    {
        var (connection, tenant) = Open(session, cancellationToken);
        var command = connection.Command("DELETE FROM temporal_instances WHERE iid = $i AND tenant = $t AND entity = $e AND attr = $a");
        AddKey(command, tenant, entityId, attribute);
        command.Parameters.AddWithValue("$i", instanceId);
        return ValueTask.FromResult(Execute(command) > 0);
    }

    /// <inheritdoc />
    public ValueTask<int> DeleteAttributeAsync(IEntityWriteSession session, string entityId, string attribute, string? datasetId, bool all, CancellationToken cancellationToken)
    {
        var (connection, tenant) = Open(session, cancellationToken);
        var command = connection.Command(all
            ? "DELETE FROM temporal_instances WHERE tenant = $t AND entity = $e AND attr = $a"
            : datasetId is null
                ? "DELETE FROM temporal_instances WHERE tenant = $t AND entity = $e AND attr = $a AND dataset IS NULL"
                : "DELETE FROM temporal_instances WHERE tenant = $t AND entity = $e AND attr = $a AND dataset = $d");
        AddKey(command, tenant, entityId, attribute);
        if (!all && datasetId is not null)
        {
            command.Parameters.AddWithValue("$d", datasetId);
        }

        return ValueTask.FromResult(Execute(command));
    }

    /// <inheritdoc />
    public ValueTask<bool> DeleteEntityAsync(IEntityWriteSession session, string entityId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entityId);
        var (connection, tenant) = Open(session, cancellationToken);
        var instances = connection.Command("DELETE FROM temporal_instances WHERE tenant = $t AND entity = $e");
        instances.Parameters.AddWithValue("$t", tenant);
        instances.Parameters.AddWithValue("$e", entityId);
        var count = Execute(instances);
        var types = connection.Command("DELETE FROM temporal_entities WHERE tenant = $t AND id = $e");
        types.Parameters.AddWithValue("$t", tenant);
        types.Parameters.AddWithValue("$e", entityId);
        count += Execute(types);
        return ValueTask.FromResult(count > 0);
    }

    /// <inheritdoc />
    public ValueTask<int> PurgeAsync(IEntityWriteSession session, long cutoff, int max, CancellationToken cancellationToken)
    {
        var (connection, tenant) = Open(session, cancellationToken);
        // iid order is recording order, so the walk meets the oldest rows first and stops after max of them.
        var command = connection.Command("""
            DELETE FROM temporal_instances WHERE iid IN (
                SELECT iid FROM temporal_instances WHERE tenant = $t AND modified_at < $cut ORDER BY iid LIMIT $max)
            """);
        command.Parameters.AddWithValue("$t", tenant);
        command.Parameters.AddWithValue("$cut", cutoff);
        command.Parameters.AddWithValue("$max", max);
        return ValueTask.FromResult(Execute(command));
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<string>?> GetEntityTypesAsync(string tenant, string entityId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entityId);
        return _store.ReadRawAsync<IReadOnlyList<string>?>(
            c =>
            {
                if (_store.TenantId(c, tenant) is not { } tid)
                {
                    return null;
                }

                var command = c.Command("SELECT types FROM temporal_entities WHERE tenant = $t AND id = $e");
                command.Parameters.AddWithValue("$t", tid);
                command.Parameters.AddWithValue("$e", entityId);
                return command.ExecuteScalar() is string types ? JsonSerializer.Deserialize(types, TemporalJson.Default.IReadOnlyListString) : null;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<string>> GetAttributesAsync(string tenant, string entityId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entityId);
        return _store.ReadRawAsync<IReadOnlyList<string>>(
            c =>
            {
                var attributes = new List<string>();
                if (_store.TenantId(c, tenant) is not { } tid)
                {
                    return attributes;
                }

                // A skip scan of the index: one seek per distinct attribute instead of a walk over every instance.
                var command = c.Command("""
                    WITH RECURSIVE a(attr) AS (
                        SELECT (SELECT min(attr) FROM temporal_instances WHERE tenant = $t AND entity = $e)
                        UNION ALL
                        SELECT (SELECT min(attr) FROM temporal_instances WHERE tenant = $t AND entity = $e AND attr > a.attr) FROM a WHERE a.attr IS NOT NULL)
                    SELECT attr FROM a WHERE attr IS NOT NULL
                    """);
                command.Parameters.AddWithValue("$t", tid);
                command.Parameters.AddWithValue("$e", entityId);
                using var reader = command.ExecuteReader();
                while (reader.Read())
                {
                    attributes.Add(reader.GetString(0));
                }

                return attributes;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<StoredInstance>> GetInstancesAsync(string tenant, string entityId, string attribute, TemporalWindow window, int limit, bool newestFirst, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(window);
        var column = ColumnOf(window.Property);
        var sql = $"""
            SELECT {Columns} FROM temporal_instances
            WHERE tenant = $t AND entity = $e AND attr = $a AND {column} >= $from AND {column} < $to
            ORDER BY {column} {(newestFirst ? "DESC" : "ASC")} LIMIT $n
            """;
        return _store.ReadRawAsync<IReadOnlyList<StoredInstance>>(
            c =>
            {
                var instances = new List<StoredInstance>();
                if (_store.TenantId(c, tenant) is not { } tid)
                {
                    return instances;
                }

                var command = c.Command(sql);
                AddKey(command, tid, entityId, attribute);
                AddWindow(command, window);
                command.Parameters.AddWithValue("$n", limit);
                using var reader = command.ExecuteReader();
                while (reader.Read())
                {
                    instances.Add(Read(reader));
                }

                return instances;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<AggregateBucket>> AggregateAsync(string tenant, string entityId, string attribute, TemporalWindow window, long period, long origin, bool distinct, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(window);
        var column = ColumnOf(window.Property);
        // Floor division (SQLite's / truncates towards zero); one bucket when the period is 0.
        var bucket = period > 0 ? $"(({column} - $o) / $p - (({column} - $o) % $p < 0))" : "0";
        var distinctCount = distinct ? "count(DISTINCT coalesce(num, doc))" : "0";
        var sql = $"""
            SELECT dataset, {bucket} AS b, min({column}), max({column}), count(*), {distinctCount}, count(num), total(num), total(num * num), min(num), max(num)
            FROM temporal_instances
            WHERE tenant = $t AND entity = $e AND attr = $a AND {column} >= $from AND {column} < $to AND deleted_at IS NULL
            GROUP BY dataset, b ORDER BY dataset, b
            """;
        return _store.ReadRawAsync<IReadOnlyList<AggregateBucket>>(
            c =>
            {
                var buckets = new List<AggregateBucket>();
                if (_store.TenantId(c, tenant) is not { } tid)
                {
                    return buckets;
                }

                var command = c.Command(sql);
                AddKey(command, tid, entityId, attribute);
                AddWindow(command, window);
                if (period > 0)
                {
                    command.Parameters.AddWithValue("$o", origin);
                    command.Parameters.AddWithValue("$p", period);
                }

                using var reader = command.ExecuteReader();
                while (reader.Read())
                {
                    buckets.Add(new AggregateBucket(
                        reader.IsDBNull(0) ? null : reader.GetString(0),
                        reader.GetInt64(1),
                        reader.GetInt64(2),
                        reader.GetInt64(3),
                        reader.GetInt64(4),
                        reader.GetInt64(5),
                        reader.GetInt64(6),
                        reader.GetDouble(7),
                        reader.GetDouble(8),
                        reader.IsDBNull(9) ? null : reader.GetDouble(9),
                        reader.IsDBNull(10) ? null : reader.GetDouble(10)));
                }

                return buckets;
            },
            cancellationToken);
    }

    // The writer connection is synchronous by design (one writer thread, in-process SQLite): these run there.
    private static int Execute(SqliteCommand command) => command.ExecuteNonQuery();

    private static StoredInstance? ReadOne(SqliteCommand command)
    {
        using var reader = command.ExecuteReader();
        return reader.Read() ? Read(reader) : null;
    }

    private static (WriterConnection Connection, long Tenant) Open(IEntityWriteSession session, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return session is EntityWriteSession own
            ? (own.Connection, own.TenantId)
            : throw new ArgumentException("The session is not one of the SQLite store's.", nameof(session));
    }

    private static RawStatement Bind(RawStatement insert, long tenant, TemporalRow row) =>
        insert.Bind(1, tenant).Bind(2, row.EntityId).Bind(3, row.Attribute).Bind(4, row.DatasetId)
            .Bind(5, row.ObservedAt).Bind(6, row.CreatedAt).Bind(7, row.ModifiedAt).Bind(8, row.DeletedAt)
            .Bind(9, row.Number).Bind(10, row.Instance);

    private static void AddKey(SqliteCommand command, long tenant, string entityId, string attribute)
    {
        command.Parameters.AddWithValue("$t", tenant);
        command.Parameters.AddWithValue("$e", entityId);
        command.Parameters.AddWithValue("$a", attribute);
    }

    private static void AddWindow(SqliteCommand command, TemporalWindow window)
    {
        command.Parameters.AddWithValue("$from", window.From ?? long.MinValue);
        command.Parameters.AddWithValue("$to", window.To ?? long.MaxValue);
    }

    private static string ColumnOf(TemporalProperty property) => property switch
    {
        TemporalProperty.CreatedAt => "created_at",
        TemporalProperty.ModifiedAt => "modified_at",
        TemporalProperty.DeletedAt => "deleted_at",
        _ => "observed_at",
    };

    private static StoredInstance Read(SqliteDataReader reader) => new(
        reader.GetInt64(0),
        reader.GetString(1),
        reader.IsDBNull(2) ? null : reader.GetString(2),
        reader.IsDBNull(3) ? null : reader.GetInt64(3),
        reader.GetInt64(4),
        reader.GetInt64(5),
        reader.IsDBNull(6) ? null : reader.GetInt64(6),
        reader.GetString(7));
}

/// <summary>Source-generated JSON for the type lists kept with the history.</summary>
[System.Text.Json.Serialization.JsonSerializable(typeof(IReadOnlyList<string>))]
internal sealed partial class TemporalJson : System.Text.Json.Serialization.JsonSerializerContext;
