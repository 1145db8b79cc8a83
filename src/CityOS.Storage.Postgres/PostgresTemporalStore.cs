using CityOS.Broker.Storage;
using CityOS.Storage.Postgres.Internal;
using Npgsql;
using NpgsqlTypes;

namespace CityOS.Storage.Postgres;

/// <summary>
/// The attribute history in the same PostgreSQL database as the entities. The history rows of a write go as one
/// multi-row INSERT (arrays unnested) in the same batch as the entity writes, so recording costs no extra round trip.
/// </summary>
public sealed class PostgresTemporalStore : ITemporalStore
{
    // Both answer count + 1 (always positive): the session's flush reads one count per statement. The keys are made
    // first, in their own statement, so that the insert (a later statement, a fresh READ COMMITTED snapshot) sees them,
    // also when a concurrent transaction made one (ON CONFLICT then waits for it and does nothing). Keys go in name
    // order, so two transactions making the same keys wait for each other instead of deadlocking.
    private const string EnsureKeysSql = """
        WITH k AS (
            INSERT INTO temporal_attrs (tenant, entity, attr)
            SELECT DISTINCT $1, x.e, x.a FROM unnest($2::text[], $3::text[]) AS x(e, a)
            ORDER BY 2, 3
            ON CONFLICT (tenant, entity, attr) DO NOTHING
            RETURNING 1)
        SELECT count(*) + 1 FROM k
        """;

    // Each key is looked up by its unique index from the row that needs it (LATERAL, kept a nested loop by OFFSET 0):
    // joined plainly, a table grown since its last ANALYZE was hashed whole for every write (creates fell to ≈460/s
    // and updates to ≈130/s in the first minute of a fresh database). Types are rewritten only when they changed.
    private const string InsertSql = """
        WITH i AS (
            INSERT INTO temporal_instances (akey, dataset, observed_at, created_at, modified_at, deleted_at, num, doc)
            SELECT k.key, x.d, x.o, x.c, x.m, x.x, x.n, x.doc
            FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::float8[], $10::text[])
                WITH ORDINALITY AS x(e, a, d, o, c, m, x, n, doc, ord)
            CROSS JOIN LATERAL (SELECT key FROM temporal_attrs k WHERE k.tenant = $1 AND k.entity = x.e AND k.attr = x.a OFFSET 0) k
            ORDER BY x.ord
            RETURNING 1)
        SELECT count(*) + 1 FROM i
        """;

    // The key of ($1, $2, $3): a constant subquery (an InitPlan), so the instance index is searched on it.
    private const string KeyOf = "(SELECT key FROM temporal_attrs WHERE tenant = $1 AND entity = $2 AND attr = $3)";

    private const string PutTypesSql = """
        WITH t AS (
            INSERT INTO temporal_entities (tenant, id, types)
            SELECT $1, x.id, ARRAY(SELECT jsonb_array_elements_text(x.types::jsonb))
            FROM unnest($2::text[], $3::text[]) AS x(id, types)
            ON CONFLICT (tenant, id) DO UPDATE SET types = excluded.types WHERE temporal_entities.types IS DISTINCT FROM excluded.types
            RETURNING 1)
        SELECT count(*) + 1 FROM t
        """;

    private const string Columns = "iid, dataset, observed_at, created_at, modified_at, deleted_at, doc";

    private readonly PostgresEntityStore _store;

    /// <summary>Keeps the history in <paramref name="store"/>'s database.</summary>
    public PostgresTemporalStore(PostgresEntityStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
    }

    /// <inheritdoc />
    public ValueTask AppendAsync(IEntityWriteSession session, IReadOnlyList<TemporalEntityTypes> entities, IReadOnlyList<TemporalRow> rows, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entities);
        ArgumentNullException.ThrowIfNull(rows);
        cancellationToken.ThrowIfCancellationRequested();
        var own = Own(session);
        if (entities.Count > 0)
        {
            // Several types of one entity in one transaction: the last wins (ON CONFLICT may not touch a row twice).
            var last = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
            foreach (var entity in entities)
            {
                last[entity.EntityId] = entity.Types;
            }

            var put = new NpgsqlBatchCommand(PutTypesSql);
            put.Parameters.Add(new NpgsqlParameter<string> { TypedValue = own.Tenant });
            put.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. last.Keys] });
            put.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. last.Values.Select(t => System.Text.Json.JsonSerializer.Serialize(t, PostgresTemporalJson.Default.IReadOnlyListString))] });
            own.Append(put);
        }

        if (rows.Count > 0)
        {
            var n = rows.Count;
            var ids = new string[n];
            var attrs = new string[n];
            var datasets = new string?[n];
            var observed = new long?[n];
            var created = new long[n];
            var modified = new long[n];
            var deleted = new long?[n];
            var numbers = new double?[n];
            var docs = new string[n];
            for (var i = 0; i < n; i++)
            {
                var row = rows[i];
                ids[i] = row.EntityId;
                attrs[i] = row.Attribute;
                datasets[i] = row.DatasetId;
                observed[i] = row.ObservedAt;
                created[i] = row.CreatedAt;
                modified[i] = row.ModifiedAt;
                deleted[i] = row.DeletedAt;
                numbers[i] = row.Number;
                docs[i] = row.Instance;
            }

            var keys = new NpgsqlBatchCommand(EnsureKeysSql);
            keys.Parameters.Add(new NpgsqlParameter<string> { TypedValue = own.Tenant });
            keys.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = ids });
            keys.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = attrs });
            own.Append(keys);

            var insert = new NpgsqlBatchCommand(InsertSql);
            insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = own.Tenant });
            insert.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = ids });
            insert.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = attrs });
            insert.Parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = datasets, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            insert.Parameters.Add(new NpgsqlParameter<long?[]> { TypedValue = observed, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
            insert.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = created });
            insert.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = modified });
            insert.Parameters.Add(new NpgsqlParameter<long?[]> { TypedValue = deleted, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
            insert.Parameters.Add(new NpgsqlParameter<double?[]> { TypedValue = numbers, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Double });
            insert.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = docs });
            own.Append(insert);
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public async ValueTask<StoredInstance?> GetInstanceAsync(IEntityWriteSession session, string entityId, string attribute, long instanceId, CancellationToken cancellationToken)
    {
        var own = Own(session);
        var (connection, transaction) = await own.ConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand($"SELECT {Columns} FROM temporal_instances WHERE iid = $4 AND akey = {KeyOf} FOR UPDATE", connection, transaction);
        AddKey(command, own.Tenant, entityId, attribute);
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = instanceId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? Read(reader, attribute) : null;
    }

    /// <inheritdoc />
    public async ValueTask<bool> ReplaceInstanceAsync(IEntityWriteSession session, string entityId, string attribute, long instanceId, TemporalRow row, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(row);
        var own = Own(session);
        var (connection, transaction) = await own.ConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(
            $"""
            UPDATE temporal_instances SET dataset = $5, observed_at = $6, created_at = $7, modified_at = $8, deleted_at = $9, num = $10, doc = $11
            WHERE iid = $4 AND akey = {KeyOf}
            """,
            connection,
            transaction);
        AddKey(command, own.Tenant, entityId, attribute);
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = instanceId });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)row.DatasetId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)row.ObservedAt ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Bigint });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = row.CreatedAt });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = row.ModifiedAt });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)row.DeletedAt ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Bigint });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)row.Number ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Double });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = row.Instance });
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) > 0;
    }

    /// <inheritdoc />
    public async ValueTask<bool> DeleteInstanceAsync(IEntityWriteSession session, string entityId, string attribute, long instanceId, CancellationToken cancellationToken)
    {
        var own = Own(session);
        var (connection, transaction) = await own.ConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand($"DELETE FROM temporal_instances WHERE iid = $4 AND akey = {KeyOf}", connection, transaction);
        AddKey(command, own.Tenant, entityId, attribute);
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = instanceId });
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) > 0;
    }

    /// <inheritdoc />
    public async ValueTask<int> DeleteAttributeAsync(IEntityWriteSession session, string entityId, string attribute, string? datasetId, bool all, CancellationToken cancellationToken)
    {
        var own = Own(session);
        var (connection, transaction) = await own.ConnectionAsync(cancellationToken).ConfigureAwait(false);
        var sql = all
            ? $"DELETE FROM temporal_instances WHERE akey = {KeyOf}"
            : datasetId is null
                ? $"DELETE FROM temporal_instances WHERE akey = {KeyOf} AND dataset IS NULL"
                : $"DELETE FROM temporal_instances WHERE akey = {KeyOf} AND dataset = $4";
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        AddKey(command, own.Tenant, entityId, attribute);
        if (!all && datasetId is not null)
        {
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = datasetId });
        }

        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<bool> DeleteEntityAsync(IEntityWriteSession session, string entityId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entityId);
        var own = Own(session);
        var (connection, transaction) = await own.ConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(
            """
            WITH k AS (DELETE FROM temporal_attrs WHERE tenant = $1 AND entity = $2 RETURNING key),
                 i AS (DELETE FROM temporal_instances WHERE akey IN (SELECT key FROM k) RETURNING 1),
                 t AS (DELETE FROM temporal_entities WHERE tenant = $1 AND id = $2 RETURNING 1)
            SELECT (SELECT count(*) FROM i) + (SELECT count(*) FROM t)
            """,
            connection,
            transaction);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = own.Tenant });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = entityId });
        return (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))! > 0;
    }

    /// <inheritdoc />
    public async ValueTask<int> PurgeAsync(IEntityWriteSession session, long cutoff, int max, CancellationToken cancellationToken)
    {
        var own = Own(session);
        var (connection, transaction) = await own.ConnectionAsync(cancellationToken).ConfigureAwait(false);
        // iid order is recording order, so the walk meets the oldest rows first and stops after max of them.
        await using var command = new NpgsqlCommand(
            """
            DELETE FROM temporal_instances WHERE iid IN (
                SELECT iid FROM temporal_instances
                WHERE modified_at < $2 AND akey IN (SELECT key FROM temporal_attrs WHERE tenant = $1)
                ORDER BY iid LIMIT $3)
            """,
            connection,
            transaction);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = own.Tenant });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = cutoff });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = max });
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<string>?> GetEntityTypesAsync(string tenant, string entityId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entityId);
        await using var connection = await _store.OpenInitializedAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("SELECT types FROM temporal_entities WHERE tenant = $1 AND id = $2", connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = entityId });
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as string[];
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<string>> GetAttributesAsync(string tenant, string entityId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entityId);
        var attributes = new List<string>();
        await using var connection = await _store.OpenInitializedAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(
            """
            SELECT attr FROM temporal_attrs k
            WHERE tenant = $1 AND entity = $2 AND EXISTS (SELECT 1 FROM temporal_instances i WHERE i.akey = k.key)
            ORDER BY attr
            """,
            connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = entityId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            attributes.Add(reader.GetString(0));
        }

        return attributes;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<StoredInstance>> GetInstancesAsync(string tenant, string entityId, string attribute, TemporalWindow window, int limit, bool newestFirst, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(window);
        var column = ColumnOf(window.Property);
        var instances = new List<StoredInstance>();
        await using var connection = await _store.OpenInitializedAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(
            $"""
            SELECT {Columns} FROM temporal_instances
            WHERE akey = {KeyOf} AND {column} >= $4 AND {column} < $5
            ORDER BY {column} {(newestFirst ? "DESC" : "ASC")} LIMIT $6
            """,
            connection);
        AddKey(command, tenant, entityId, attribute);
        AddWindow(command, window);
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            instances.Add(Read(reader, attribute));
        }

        return instances;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<AggregateBucket>> AggregateAsync(string tenant, string entityId, string attribute, TemporalWindow window, long period, long origin, bool distinct, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(window);
        var column = ColumnOf(window.Property);
        // Floor division (bigint / truncates towards zero); one bucket when the period is 0.
        var bucket = period > 0 ? $"(({column} - $6) / $7 - CASE WHEN ({column} - $6) % $7 < 0 THEN 1 ELSE 0 END)" : "0::bigint";
        var distinctCount = distinct ? "count(DISTINCT coalesce(num::text, doc))" : "0::bigint";
        var buckets = new List<AggregateBucket>();
        await using var connection = await _store.OpenInitializedAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(
            $"""
            SELECT dataset, {bucket} AS b, min({column}), max({column}), count(*), {distinctCount}, count(num),
                   coalesce(sum(num), 0), coalesce(sum(num * num), 0), min(num), max(num)
            FROM temporal_instances
            WHERE akey = {KeyOf} AND {column} >= $4 AND {column} < $5 AND deleted_at IS NULL
            GROUP BY dataset, b ORDER BY dataset, b
            """,
            connection);
        AddKey(command, tenant, entityId, attribute);
        AddWindow(command, window);
        if (period > 0)
        {
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = origin });
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = period });
        }

        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            buckets.Add(ReadBucket(reader));
        }

        return buckets;
    }

    private static PostgresWriteSession Own(IEntityWriteSession session) =>
        session as PostgresWriteSession ?? throw new ArgumentException("The session is not one of the PostgreSQL store's.", nameof(session));

    private static void AddKey(NpgsqlCommand command, string tenant, string entityId, string attribute)
    {
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = entityId });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = attribute });
    }

    private static void AddWindow(NpgsqlCommand command, TemporalWindow window)
    {
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = window.From ?? long.MinValue });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = window.To ?? long.MaxValue });
    }

    private static string ColumnOf(TemporalProperty property) => property switch
    {
        TemporalProperty.CreatedAt => "created_at",
        TemporalProperty.ModifiedAt => "modified_at",
        TemporalProperty.DeletedAt => "deleted_at",
        _ => "observed_at",
    };

    // After ReadAsync the whole row is buffered (non-sequential access), so these column reads do not block.
    private static AggregateBucket ReadBucket(NpgsqlDataReader reader) => new(
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
        reader.IsDBNull(10) ? null : reader.GetDouble(10));

    private static StoredInstance Read(NpgsqlDataReader reader, string attribute) => new(
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
internal sealed partial class PostgresTemporalJson : System.Text.Json.Serialization.JsonSerializerContext;
