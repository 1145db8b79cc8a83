using System.Text.Json.Nodes;
using CityOS.Broker.Storage;
using CityOS.NgsiLd.Errors;
using Npgsql;
using NpgsqlTypes;

namespace CityOS.Storage.Postgres.Internal;

/// <summary>
/// The session of one WriteAsync call: every statement runs in the call's transaction. GetAsync and
/// GetManyAsync lock the rows they read (FOR UPDATE), so a read-modify-write through another connection or
/// node waits for this transaction and then reads its result: no update is lost.
/// <para>
/// Writes whose outcome the session already knows or can bet on are deferred and sent together before the next
/// statement that could see them and before the commit: an insert of an id that a read found absent or that was
/// never read (a create), and an update of an id that a read found (and locked). Several deferred writes go as one set-based INSERT (and one
/// UPDATE) over parameter arrays, so a batch upsert of n entities costs one lookup statement and one or two
/// write statements instead of n of each. Should a deferred write find the world otherwise (another
/// transaction inserted the id in between), the flush throws <see cref="DeferredWriteConflictException"/>
/// and the store runs the work again without deferral.
/// </para>
/// </summary>
internal sealed class PostgresWriteSession : IEntityWriteSession
{
    // Data-modifying CTEs: the row and its geo boxes in one round trip. ON CONFLICT DO NOTHING makes a
    // duplicate id a no-op (count 0) instead of an error that would abort the whole transaction.
    private const string InsertSql = """
        WITH e AS (
            INSERT INTO entities (tenant, id, types, attr_names, attrs, doc, vals) VALUES ($1, $2, $3, $4, $5, $6, $12)
            ON CONFLICT (tenant, id) DO NOTHING RETURNING seq),
        t AS (
            INSERT INTO entity_types (tenant, type, entity) SELECT $1, x.type, e.seq FROM e, unnest($3::text[]) AS x(type)),
        g AS (
            INSERT INTO entity_geo (tenant, entity, prop, box)
            SELECT $1, e.seq, x.prop, public.ST_MakeEnvelope(x.minx, x.miny, x.maxx, x.maxy)
            FROM e, unnest($7::text[], $8::float8[], $9::float8[], $10::float8[], $11::float8[]) AS x(prop, minx, miny, maxx, maxy))
        SELECT count(*) FROM e
        """;

    // The update keeps seq (the creation order); only changed types are touched (both type CTEs see the rows
    // as they were before the statement), and the geo boxes are replaced (the DELETE does not see the rows
    // the INSERT adds: every CTE runs on the statement's snapshot). The deletes compare with the seq as a value
    // ((SELECT seq FROM e), ANY(ARRAY(…))), never join with e: on a table grown since its last ANALYZE the
    // planner then chose a sequential scan and hash join of all boxes for each update (updates fell from ≈2,300/s
    // to ≈300/s right after the first 100,000 creates); a value keeps the index scan whatever the statistics.
    internal const string UpdateSql = """
        WITH e AS (
            UPDATE entities SET types = $3, attr_names = $4, attrs = $5, doc = $6, vals = $12 WHERE tenant = $1 AND id = $2 RETURNING seq),
        td AS (
            DELETE FROM entity_types k WHERE k.entity = (SELECT seq FROM e) AND NOT (k.type = ANY($3::text[]))),
        ti AS (
            INSERT INTO entity_types (tenant, type, entity)
            SELECT $1, x.type, e.seq FROM e, unnest($3::text[]) AS x(type)
            WHERE NOT EXISTS (SELECT 1 FROM entity_types k WHERE k.entity = e.seq AND k.type = x.type)),
        d AS (
            DELETE FROM entity_geo g WHERE g.entity = (SELECT seq FROM e)),
        g AS (
            INSERT INTO entity_geo (tenant, entity, prop, box)
            SELECT $1, e.seq, x.prop, public.ST_MakeEnvelope(x.minx, x.miny, x.maxx, x.maxy)
            FROM e, unnest($7::text[], $8::float8[], $9::float8[], $10::float8[], $11::float8[]) AS x(prop, minx, miny, maxx, maxy))
        SELECT count(*) FROM e
        """;

    // The set-based forms of the two statements above, for several deferred writes at once. Each entity is one
    // element of the parallel arrays $2..$6 and $13 (types and attribute names as array literals, since PostgreSQL
    // arrays cannot nest unevenly); the geo boxes are arrays of their own, tied to their entity by id. The
    // rows are inserted in array order, so seq keeps the order of the writes (the creation order).
    private const string InsertManySql = """
        WITH x AS (
            SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::jsonb[], $6::json[], $13::jsonb[]) WITH ORDINALITY AS x(id, types, names, attrs, doc, vals, n)),
        e AS (
            INSERT INTO entities (tenant, id, types, attr_names, attrs, doc, vals)
            SELECT $1, x.id, x.types::text[], x.names::text[], x.attrs, x.doc, x.vals FROM x ORDER BY x.n
            ON CONFLICT (tenant, id) DO NOTHING RETURNING seq, id, types),
        t AS (
            INSERT INTO entity_types (tenant, type, entity) SELECT $1, u.type, e.seq FROM e, unnest(e.types) AS u(type)),
        g AS (
            INSERT INTO entity_geo (tenant, entity, prop, box)
            SELECT $1, e.seq, b.prop, public.ST_MakeEnvelope(b.minx, b.miny, b.maxx, b.maxy)
            FROM unnest($7::text[], $8::text[], $9::float8[], $10::float8[], $11::float8[], $12::float8[]) AS b(id, prop, minx, miny, maxx, maxy)
            JOIN e ON e.id = b.id COLLATE "C")
        SELECT count(*) FROM e
        """;

    private const string UpdateManySql = """
        WITH x AS (
            SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::jsonb[], $6::json[], $13::jsonb[]) AS x(id, types, names, attrs, doc, vals)),
        e AS (
            UPDATE entities AS r SET types = x.types::text[], attr_names = x.names::text[], attrs = x.attrs, doc = x.doc, vals = x.vals
            FROM x WHERE r.tenant = $1 AND r.id = x.id COLLATE "C" RETURNING r.seq, r.id, r.types),
        td AS (
            DELETE FROM entity_types k WHERE k.entity = ANY(ARRAY(SELECT seq FROM e))
                AND NOT EXISTS (SELECT 1 FROM e WHERE e.seq = k.entity AND k.type = ANY(e.types))),
        ti AS (
            INSERT INTO entity_types (tenant, type, entity)
            SELECT $1, u.type, e.seq FROM e, unnest(e.types) AS u(type)
            WHERE NOT EXISTS (SELECT 1 FROM entity_types k WHERE k.entity = e.seq AND k.type = u.type)),
        d AS (
            DELETE FROM entity_geo g WHERE g.entity = ANY(ARRAY(SELECT seq FROM e))),
        g AS (
            INSERT INTO entity_geo (tenant, entity, prop, box)
            SELECT $1, e.seq, b.prop, public.ST_MakeEnvelope(b.minx, b.miny, b.maxx, b.maxy)
            FROM unnest($7::text[], $8::text[], $9::float8[], $10::float8[], $11::float8[], $12::float8[]) AS b(id, prop, minx, miny, maxx, maxy)
            JOIN e ON e.id = b.id COLLATE "C")
        SELECT count(*) FROM e
        """;

    // The type rows and geo boxes go with the row (no foreign keys: schema version 3).
    internal const string DeleteSql = """
        WITH e AS (
            DELETE FROM entities WHERE tenant = $1 AND id = $2 RETURNING seq),
        t AS (
            DELETE FROM entity_types k WHERE k.entity = (SELECT seq FROM e)),
        g AS (
            DELETE FROM entity_geo b WHERE b.entity = (SELECT seq FROM e))
        SELECT count(*) FROM e
        """;

    // Sorted so that two transactions locking overlapping sets take the locks in the same order (the row
    // lock is taken above the sort) and wait for each other instead of deadlocking.
    private const string GetManySql = "SELECT id, doc FROM entities WHERE tenant = $1 AND id = ANY($2) ORDER BY id FOR UPDATE";

    private readonly NpgsqlConnection _connection;
    private readonly NpgsqlTransaction _transaction;
    private readonly string _tenant;
    private readonly bool _deferWrites;

    // What GetAsync/GetManyAsync found for each id (true: the row exists and is locked by this transaction).
    private readonly Dictionary<string, bool> _found = new(StringComparer.Ordinal);
    private readonly List<(bool Insert, EntityRow Row)> _pending = [];
    private readonly HashSet<string> _pendingIds = new(StringComparer.Ordinal);

    // Statements of other features (the attribute history) that only add rows: they ride in the next flush's batch.
    private readonly List<NpgsqlBatchCommand> _appends = [];
    private bool _closed;

    /// <summary>Writes deferred at most before a flush: bounds the batch and the memory it holds.</summary>
    internal const int MaxDeferredWrites = 1000;

    public PostgresWriteSession(NpgsqlConnection connection, NpgsqlTransaction transaction, string tenant, bool deferWrites)
    {
        _connection = connection;
        _transaction = transaction;
        _tenant = tenant;
        _deferWrites = deferWrites;
    }

    public async ValueTask<JsonObject?> GetAsync(string id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(id);
        Check(cancellationToken);
        if (_pendingIds.Contains(id))
        {
            await FlushAsync(cancellationToken).ConfigureAwait(false);
        }

        await using var command = new NpgsqlCommand("SELECT doc FROM entities WHERE tenant = $1 AND id = $2 FOR UPDATE", _connection, _transaction);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _tenant });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = id });
        var doc = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as string;
        _found[id] = doc is not null;
        return doc is null ? null : EntityRow.ParseDoc(doc);
    }

    public async ValueTask<IReadOnlyDictionary<string, JsonObject>> GetManyAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ids);
        Check(cancellationToken);
        var distinct = new HashSet<string>(ids.Count, StringComparer.Ordinal);
        var flush = false;
        foreach (var id in ids)
        {
            ArgumentNullException.ThrowIfNull(id, nameof(ids));
            distinct.Add(id);
            flush |= _pendingIds.Contains(id);
        }

        if (flush)
        {
            await FlushAsync(cancellationToken).ConfigureAwait(false);
        }

        var found = new Dictionary<string, JsonObject>(distinct.Count, StringComparer.Ordinal);
        if (distinct.Count == 0)
        {
            return found;
        }

        await using (var command = new NpgsqlCommand(GetManySql, _connection, _transaction))
        {
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _tenant });
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. distinct] });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                found[reader.GetString(0)] = EntityRow.ParseDoc(reader.GetString(1));
            }
        }

        foreach (var id in distinct)
        {
            _found[id] = found.ContainsKey(id);
        }

        return found;
    }

    public async ValueTask<bool> InsertAsync(JsonObject entity, CancellationToken cancellationToken)
    {
        Check(cancellationToken);
        var row = EntityRow.Of(entity);
        if (await TryDeferAsync(insert: true, row, expectFound: false, cancellationToken).ConfigureAwait(false))
        {
            return true;
        }

        _found.Remove(row.Id);
        return await WriteRowAsync(InsertSql, row, cancellationToken).ConfigureAwait(false) > 0;
    }

    public async ValueTask UpdateAsync(JsonObject entity, CancellationToken cancellationToken)
    {
        Check(cancellationToken);
        var row = EntityRow.Of(entity);
        if (await TryDeferAsync(insert: false, row, expectFound: true, cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        if (await WriteRowAsync(UpdateSql, row, cancellationToken).ConfigureAwait(false) == 0)
        {
            throw NgsiLdException.NotFound($"Entity '{row.Id}' does not exist, so it cannot be updated.");
        }
    }

    public async ValueTask<bool> DeleteAsync(string id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(id);
        Check(cancellationToken);
        await FlushAsync(cancellationToken).ConfigureAwait(false);
        _found.Remove(id);
        await using var command = new NpgsqlCommand(DeleteSql, _connection, _transaction);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _tenant });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = id });
        return (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))! > 0;
    }

    public async ValueTask<IReadOnlyList<string>> QueryIdsAsync(EntityQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        Check(cancellationToken);
        await FlushAsync(cancellationToken).ConfigureAwait(false);
        return await QuerySql.IdsAsync(_connection, _transaction, _tenant, query, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Ends the session: the work may keep a reference, but may not use it after WriteAsync returns.</summary>
    public void Close() => _closed = true;

    /// <summary>The tenant written.</summary>
    public string Tenant => _tenant;

    /// <summary>
    /// Queues a statement that only inserts rows no other statement of this transaction reads before the commit (history
    /// rows). It goes with the deferred entity writes in the next flush, so it costs no round trip of its own. It must
    /// answer one row whose first column is a positive bigint (as the deferred writes' counts do).
    /// </summary>
    public void Append(NpgsqlBatchCommand command)
    {
        ObjectDisposedException.ThrowIf(_closed, this);
        _appends.Add(command);
    }

    /// <summary>
    /// The connection and transaction for a statement of another feature, after every deferred write and queued append
    /// has been sent (so that the statement sees them).
    /// </summary>
    public async ValueTask<(NpgsqlConnection Connection, NpgsqlTransaction Transaction)> ConnectionAsync(CancellationToken cancellationToken)
    {
        Check(cancellationToken);
        await FlushAsync(cancellationToken).ConfigureAwait(false);
        return (_connection, _transaction);
    }

    /// <summary>
    /// Sends the deferred writes as one batch; throws <see cref="DeferredWriteConflictException"/> when one of
    /// them found its row otherwise than GetAsync had (its transaction must then be rolled back).
    /// </summary>
    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        if (_pending.Count == 0 && _appends.Count == 0)
        {
            return;
        }

        await using var batch = new NpgsqlBatch(_connection, _transaction);
        var expected = new List<long>(2);
        if (_pending.Count == 1)
        {
            // One write (a single-entity request): the per-row statement, the cheapest to plan and run.
            var (insert, row) = _pending[0];
            var command = new NpgsqlBatchCommand(insert ? InsertSql : UpdateSql);
            AddRowParameters(command.Parameters, row);
            batch.BatchCommands.Add(command);
            expected.Add(1);
        }
        else
        {
            // Inserts before updates, each in write order: the two sets hold different ids (a second write of
            // an id flushes the first), so only the inserts' relative order matters (their seq).
            foreach (var insert in (bool[])[true, false])
            {
                var rows = _pending.Where(p => p.Insert == insert).Select(p => p.Row).ToList();
                if (rows.Count > 0)
                {
                    var command = new NpgsqlBatchCommand(insert ? InsertManySql : UpdateManySql);
                    AddRowsParameters(command.Parameters, rows);
                    batch.BatchCommands.Add(command);
                    expected.Add(rows.Count);
                }
            }
        }

        // After the entity writes: appended statements may refer to what they wrote.
        foreach (var command in _appends)
        {
            batch.BatchCommands.Add(command);
        }

        _appends.Clear();

        var conflict = false;
        await using (var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            var statement = 0;
            do
            {
                // Every entity statement answers how many rows it wrote: fewer than sent means an insert met an
                // existing id, or an update a missing row. The appended statements come after them and are not
                // counted.
                if (statement < expected.Count)
                {
                    conflict |= !await reader.ReadAsync(cancellationToken).ConfigureAwait(false) || reader.GetInt64(0) != expected[statement];
                }

                statement++;
            }
            while (await reader.NextResultAsync(cancellationToken).ConfigureAwait(false));
        }

        _pending.Clear();
        _pendingIds.Clear();
        if (conflict)
        {
            throw new DeferredWriteConflictException();
        }
    }

    /// <summary>Defers the write when GetAsync of this session already told its outcome.</summary>
    private async ValueTask<bool> TryDeferAsync(bool insert, EntityRow row, bool expectFound, CancellationToken cancellationToken)
    {
        if (_pendingIds.Contains(row.Id))
        {
            // A second write of one id: its outcome depends on the first, so the first goes now.
            await FlushAsync(cancellationToken).ConfigureAwait(false);
            return false;
        }

        if (!_deferWrites)
        {
            return false;
        }

        // An insert of an id this transaction has not looked up is deferred on the bet that the id is new (a create:
        // one round trip fewer, the insert then travels with the history rows and the rest of the flush). Lost bets
        // are rare and safe: the flush finds the id taken, throws DeferredWriteConflict, and the work runs again
        // undeferred, where the insert answers false.
        var known = _found.TryGetValue(row.Id, out var found);
        if (known ? found != expectFound : expectFound)
        {
            return false;
        }

        _pending.Add((insert, row));
        _pendingIds.Add(row.Id);
        // After an insert the row exists and is this transaction's; after an update it still is.
        _found[row.Id] = true;
        if (_pending.Count >= MaxDeferredWrites)
        {
            await FlushAsync(cancellationToken).ConfigureAwait(false);
        }

        return true;
    }

    private async Task<long> WriteRowAsync(string sql, EntityRow row, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, _connection, _transaction);
        AddRowParameters(command.Parameters, row);
        return (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    private void AddRowParameters(NpgsqlParameterCollection parameters, EntityRow row)
    {
        parameters.Add(new NpgsqlParameter<string> { TypedValue = _tenant });
        parameters.Add(new NpgsqlParameter<string> { TypedValue = row.Id });
        parameters.Add(new NpgsqlParameter<string[]> { TypedValue = row.Types });
        parameters.Add(new NpgsqlParameter<string[]> { TypedValue = row.AttributeNames });
        parameters.Add(new NpgsqlParameter<string> { TypedValue = row.AttributePairs, NpgsqlDbType = NpgsqlDbType.Jsonb });
        parameters.Add(new NpgsqlParameter<string> { TypedValue = row.Doc, NpgsqlDbType = NpgsqlDbType.Json });
        parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. row.Geo.Properties] });
        parameters.Add(new NpgsqlParameter<double[]> { TypedValue = [.. row.Geo.MinX] });
        parameters.Add(new NpgsqlParameter<double[]> { TypedValue = [.. row.Geo.MinY] });
        parameters.Add(new NpgsqlParameter<double[]> { TypedValue = [.. row.Geo.MaxX] });
        parameters.Add(new NpgsqlParameter<double[]> { TypedValue = [.. row.Geo.MaxY] });
        parameters.Add(new NpgsqlParameter<string> { TypedValue = row.Values, NpgsqlDbType = NpgsqlDbType.Jsonb });
    }

    private void AddRowsParameters(NpgsqlParameterCollection parameters, List<EntityRow> rows)
    {
        var ids = new string[rows.Count];
        var types = new string[rows.Count];
        var names = new string[rows.Count];
        var attrs = new string[rows.Count];
        var docs = new string[rows.Count];
        var values = new string[rows.Count];
        var geoIds = new List<string>();
        var geo = new GeoBoxes();
        for (var i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            ids[i] = row.Id;
            types[i] = ArrayLiteral(row.Types);
            names[i] = ArrayLiteral(row.AttributeNames);
            attrs[i] = row.AttributePairs;
            docs[i] = row.Doc;
            values[i] = row.Values;
            for (var b = 0; b < row.Geo.Count; b++)
            {
                geoIds.Add(row.Id);
                geo.Add(row.Geo.Properties[b], (row.Geo.MinX[b], row.Geo.MinY[b], row.Geo.MaxX[b], row.Geo.MaxY[b]));
            }
        }

        parameters.Add(new NpgsqlParameter<string> { TypedValue = _tenant });
        parameters.Add(new NpgsqlParameter<string[]> { TypedValue = ids });
        parameters.Add(new NpgsqlParameter<string[]> { TypedValue = types });
        parameters.Add(new NpgsqlParameter<string[]> { TypedValue = names });
        parameters.Add(new NpgsqlParameter<string[]> { TypedValue = attrs, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb });
        parameters.Add(new NpgsqlParameter<string[]> { TypedValue = docs, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Json });
        parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. geoIds] });
        parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. geo.Properties] });
        parameters.Add(new NpgsqlParameter<double[]> { TypedValue = [.. geo.MinX] });
        parameters.Add(new NpgsqlParameter<double[]> { TypedValue = [.. geo.MinY] });
        parameters.Add(new NpgsqlParameter<double[]> { TypedValue = [.. geo.MaxX] });
        parameters.Add(new NpgsqlParameter<double[]> { TypedValue = [.. geo.MaxY] });
        parameters.Add(new NpgsqlParameter<string[]> { TypedValue = values, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb });
    }

    /// <summary>A PostgreSQL array literal of <paramref name="values"/>: every element quoted, \ and " escaped.</summary>
    internal static string ArrayLiteral(string[] values)
    {
        var text = new System.Text.StringBuilder(2 + values.Sum(v => v.Length + 3));
        text.Append('{');
        for (var i = 0; i < values.Length; i++)
        {
            if (i > 0)
            {
                text.Append(',');
            }

            text.Append('"');
            foreach (var c in values[i])
            {
                if (c is '"' or '\\')
                {
                    text.Append('\\');
                }

                text.Append(c);
            }

            text.Append('"');
        }

        return text.Append('}').ToString();
    }

    private void Check(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_closed, this);
        cancellationToken.ThrowIfCancellationRequested();
    }
}

/// <summary>A deferred write found its row otherwise than expected: the transaction is rolled back and the work runs again undeferred.</summary>
internal sealed class DeferredWriteConflictException : Exception
{
    public DeferredWriteConflictException()
        : base("A deferred write met a row changed by another transaction.")
    {
    }
}
