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
    private const string NewKeySql = "INSERT INTO temporal_attrs(tenant, entity, attr) VALUES (?1, ?2, ?3) RETURNING key";

    private const string KeySql = "SELECT key FROM temporal_attrs WHERE tenant = ?1 AND entity = ?2 AND attr = ?3";

    private const string InsertSql = """
        INSERT INTO temporal_instances(akey, dataset, observed_at, created_at, modified_at, deleted_at, num, doc)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
        """;

    // The key of ($t, $e, $a): a constant subquery, so the instance index is searched on it.
    private const string KeyOf = "(SELECT key FROM temporal_attrs WHERE tenant = $t AND entity = $e AND attr = $a)";

    private const string PutTypesSql = """
        INSERT INTO temporal_entities(tenant, id, types) VALUES (?1, ?2, ?3)
        ON CONFLICT(tenant, id) DO UPDATE SET types = excluded.types
        """;

    private const string Columns = "iid, dataset, observed_at, created_at, modified_at, deleted_at, doc";

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
        var keys = new Dictionary<(string, string), long>();
        foreach (var row in rows)
        {
            if (!keys.TryGetValue((row.EntityId, row.Attribute), out var key))
            {
                key = KeyFor(connection, tenant, row.EntityId, row.Attribute);
                keys[(row.EntityId, row.Attribute)] = key;
            }

            Bind(insert, key, row).Execute();
        }

        return ValueTask.CompletedTask;
    }

    // Remembered by the writer connection; else looked up (all but an attribute's first write find it), else made.
    private static long KeyFor(WriterConnection connection, long tenant, string entityId, string attribute)
    {
        if (connection.TemporalKeys.TryGetValue((tenant, entityId, attribute), out var known))
        {
            return known;
        }

        var key = LookUpOrMakeKey(connection, tenant, entityId, attribute);
        if (connection.TemporalKeys.Count >= MaxCachedKeys)
        {
            connection.TemporalKeys.Clear();
        }

        connection.TemporalKeys[(tenant, entityId, attribute)] = key;
        return key;
    }

    // Bounds the memory of the key cache (about 200 bytes a key).
    private const int MaxCachedKeys = 100_000;

    private static long LookUpOrMakeKey(WriterConnection connection, long tenant, string entityId, string attribute)
    {
        using (var found = connection.Statement(KeySql).Bind(1, tenant).Bind(2, entityId).Bind(3, attribute).Query())
        {
            if (found.Read())
            {
                return found.GetInt64(0);
            }
        }

        using var made = connection.Statement(NewKeySql).Bind(1, tenant).Bind(2, entityId).Bind(3, attribute).Query();
        return made.Read() ? made.GetInt64(0) : throw new InvalidOperationException("Making a history key returned nothing.");
    }

    /// <inheritdoc />
    public ValueTask<StoredInstance?> GetInstanceAsync(IEntityWriteSession session, string entityId, string attribute, long instanceId, CancellationToken cancellationToken)
    {
        var (connection, tenant) = Open(session, cancellationToken);
        var command = connection.Command($"SELECT {Columns} FROM temporal_instances WHERE iid = $i AND akey = {KeyOf}");
        AddKey(command, tenant, entityId, attribute);
        command.Parameters.AddWithValue("$i", instanceId);
        return ValueTask.FromResult(ReadOne(command, attribute));
    }

    /// <inheritdoc />
    public ValueTask<bool> ReplaceInstanceAsync(IEntityWriteSession session, string entityId, string attribute, long instanceId, TemporalRow row, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(row);
        var (connection, tenant) = Open(session, cancellationToken);
        var command = connection.Command($"""
            UPDATE temporal_instances SET dataset = $d, observed_at = $o, created_at = $c, modified_at = $m, deleted_at = $x, num = $n, doc = $doc
            WHERE iid = $i AND akey = {KeyOf}
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
        var command = connection.Command($"DELETE FROM temporal_instances WHERE iid = $i AND akey = {KeyOf}");
        AddKey(command, tenant, entityId, attribute);
        command.Parameters.AddWithValue("$i", instanceId);
        return ValueTask.FromResult(Execute(command) > 0);
    }

    /// <inheritdoc />
    public ValueTask<int> DeleteAttributeAsync(IEntityWriteSession session, string entityId, string attribute, string? datasetId, bool all, CancellationToken cancellationToken)
    {
        var (connection, tenant) = Open(session, cancellationToken);
        var command = connection.Command(all
            ? $"DELETE FROM temporal_instances WHERE akey = {KeyOf}"
            : datasetId is null
                ? $"DELETE FROM temporal_instances WHERE akey = {KeyOf} AND dataset IS NULL"
                : $"DELETE FROM temporal_instances WHERE akey = {KeyOf} AND dataset = $d");
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
        var instances = connection.Command("DELETE FROM temporal_instances WHERE akey IN (SELECT key FROM temporal_attrs WHERE tenant = $t AND entity = $e)");
        instances.Parameters.AddWithValue("$t", tenant);
        instances.Parameters.AddWithValue("$e", entityId);
        var count = Execute(instances);
        // The deleted keys' numbers may be handed out again: the writer must not remember them.
        connection.TemporalKeys.Clear();
        var keys = connection.Command("DELETE FROM temporal_attrs WHERE tenant = $t AND entity = $e");
        keys.Parameters.AddWithValue("$t", tenant);
        keys.Parameters.AddWithValue("$e", entityId);
        Execute(keys);
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
                SELECT iid FROM temporal_instances
                WHERE modified_at < $cut AND akey IN (SELECT key FROM temporal_attrs WHERE tenant = $t)
                ORDER BY iid LIMIT $max)
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

                var command = c.Command("""
                    SELECT attr FROM temporal_attrs k
                    WHERE tenant = $t AND entity = $e AND EXISTS (SELECT 1 FROM temporal_instances i WHERE i.akey = k.key)
                    ORDER BY attr
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
            WHERE akey = {KeyOf} AND {column} >= $from AND {column} < $to
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
                    instances.Add(Read(reader, attribute));
                }

                return instances;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<AggregateBucket>> AggregateAsync(string tenant, string entityId, string attribute, TemporalWindow window, long period, long origin, bool distinct, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(window);
        return _store.ReadRawAsync<IReadOnlyList<AggregateBucket>>(
            c => _store.TenantId(c, tenant) is { } tid
                ? distinct
                    ? AggregateInSql(c, tid, entityId, attribute, window, period, origin)
                    : AggregateStreaming(c, tid, entityId, attribute, window, period, origin)
                : [],
            cancellationToken);
    }

    /// <summary>
    /// Aggregation while walking the covering index in time order: buckets are met in order, so nothing is sorted.
    /// (A GROUP BY on the bucket makes SQLite sort every instance of the window first: several times slower.)
    /// </summary>
    private static List<AggregateBucket> AggregateStreaming(ReadConnection c, long tenant, string entityId, string attribute, TemporalWindow window, long period, long origin)
    {
        var column = ColumnOf(window.Property);
        var sql = $"""
            SELECT {column}, num, dataset FROM temporal_instances
            WHERE akey = (SELECT key FROM temporal_attrs WHERE tenant = ?1 AND entity = ?2 AND attr = ?3)
              AND {column} >= ?4 AND {column} < ?5 AND deleted_at IS NULL
            ORDER BY {column}
            """;
        var buckets = new Dictionary<(string?, long), Accumulator>();
        var order = new List<(string?, long)>();
        using var statement = new RawStatement(c.Connection, sql);
        statement.Bind(1, tenant).Bind(2, entityId).Bind(3, attribute).Bind(4, window.From ?? long.MinValue).Bind(5, window.To ?? long.MaxValue);
        using (var cursor = statement.Query())
        {
            Accumulator? current = null;
            (string?, long) currentKey = default;
            while (cursor.Read())
            {
                var time = cursor.GetInt64(0);
                var dataset = cursor.IsNull(2) ? null : cursor.GetString(2);
                var bucket = period > 0 ? Math.DivRem(time - origin, period, out var rest) - (rest < 0 ? 1 : 0) : 0;
                var key = (dataset, bucket);
                if (current is null || currentKey != key)
                {
                    if (!buckets.TryGetValue(key, out current))
                    {
                        current = new Accumulator(time);
                        buckets[key] = current;
                        order.Add(key);
                    }

                    currentKey = key;
                }

                current.Add(time, cursor.IsNull(1) ? null : cursor.GetDouble(1));
            }
        }

        order.Sort(static (a, b) => a.Item1 == b.Item1 ? a.Item2.CompareTo(b.Item2) : string.CompareOrdinal(a.Item1, b.Item1));
        return [.. order.Select(k => buckets[k].ToBucket(k.Item1, k.Item2))];
    }

    private static List<AggregateBucket> AggregateInSql(ReadConnection c, long tenant, string entityId, string attribute, TemporalWindow window, long period, long origin)
    {
        var column = ColumnOf(window.Property);
        // Floor division (SQLite's / truncates towards zero); one bucket when the period is 0.
        var bucket = period > 0 ? $"(({column} - $o) / $p - (({column} - $o) % $p < 0))" : "0";
        var sql = $"""
            SELECT dataset, {bucket} AS b, min({column}), max({column}), count(*), count(DISTINCT coalesce(num, doc)), count(num), total(num), total(num * num), min(num), max(num)
            FROM temporal_instances
            WHERE akey = {KeyOf} AND {column} >= $from AND {column} < $to AND deleted_at IS NULL
            GROUP BY dataset, b ORDER BY dataset, b
            """;
        var buckets = new List<AggregateBucket>();
        var command = c.Command(sql);
        AddKey(command, tenant, entityId, attribute);
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
    }

    /// <summary>The running totals of one bucket.</summary>
    private sealed class Accumulator(long first)
    {
        // Rows arrive in time order, so the first seen is the earliest.
        private readonly long _first = first;
        private long _last = first;
        private long _count;
        private long _numeric;
        private double _sum;
        private double _squares;
        private double? _min;
        private double? _max;

        public void Add(long time, double? number)
        {
            _last = Math.Max(_last, time);
            _count++;
            if (number is { } n)
            {
                _numeric++;
                _sum += n;
                _squares += n * n;
                _min = _min is { } min && min <= n ? min : n;
                _max = _max is { } max && max >= n ? max : n;
            }
        }

        public AggregateBucket ToBucket(string? dataset, long bucket) =>
            new(dataset, bucket, _first, _last, _count, 0, _numeric, _sum, _squares, _min, _max);
    }

    // The writer connection is synchronous by design (one writer thread, in-process SQLite): these run there.
    private static int Execute(SqliteCommand command) => command.ExecuteNonQuery();

    private static StoredInstance? ReadOne(SqliteCommand command, string attribute)
    {
        using var reader = command.ExecuteReader();
        return reader.Read() ? Read(reader, attribute) : null;
    }

    private static (WriterConnection Connection, long Tenant) Open(IEntityWriteSession session, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return session is EntityWriteSession own
            ? (own.Connection, own.TenantId)
            : throw new ArgumentException("The session is not one of the SQLite store's.", nameof(session));
    }

    private static RawStatement Bind(RawStatement insert, long key, TemporalRow row) =>
        insert.Bind(1, key).Bind(2, row.DatasetId).Bind(3, row.ObservedAt).Bind(4, row.CreatedAt).Bind(5, row.ModifiedAt)
            .Bind(6, row.DeletedAt).Bind(7, row.Number).Bind(8, row.Instance);

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

    private static StoredInstance Read(SqliteDataReader reader, string attribute) => new(
        reader.GetInt64(0),
        attribute,
        reader.IsDBNull(1) ? null : reader.GetString(1),
        reader.IsDBNull(2) ? null : reader.GetInt64(2),
        reader.GetInt64(3),
        reader.GetInt64(4),
        reader.IsDBNull(5) ? null : reader.GetInt64(5),
        reader.GetString(6));
}

/// <summary>Source-generated JSON for the type lists kept with the history.</summary>
[System.Text.Json.Serialization.JsonSerializable(typeof(IReadOnlyList<string>))]
internal sealed partial class TemporalJson : System.Text.Json.Serialization.JsonSerializerContext;
