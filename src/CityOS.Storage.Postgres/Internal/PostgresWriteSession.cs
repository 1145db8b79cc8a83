using System.Text.Json.Nodes;
using CityOS.Broker.Storage;
using CityOS.NgsiLd.Errors;
using Npgsql;
using NpgsqlTypes;

namespace CityOS.Storage.Postgres.Internal;

/// <summary>
/// The session of one WriteAsync call: every statement runs in the call's transaction. GetAsync locks the
/// row it reads (FOR UPDATE), so a read-modify-write through another connection or node waits for this
/// transaction and then reads its result: no update is lost.
/// <para>
/// Writes whose outcome the session already knows are deferred and sent together, as one batch of
/// statements, before the next statement that could see them and before the commit: an insert of an id
/// that GetAsync found absent, and an update of an id that GetAsync found (and locked). A batch upsert of
/// n entities then costs n lookups and one round trip of writes instead of 2n round trips. Should a
/// deferred write find the world otherwise (another transaction inserted the id in between), the flush
/// throws <see cref="DeferredWriteConflictException"/> and the store runs the work again without deferral.
/// </para>
/// </summary>
internal sealed class PostgresWriteSession : IEntityWriteSession
{
    // Data-modifying CTEs: the row and its geo boxes in one round trip. ON CONFLICT DO NOTHING makes a
    // duplicate id a no-op (count 0) instead of an error that would abort the whole transaction.
    private const string InsertSql = """
        WITH e AS (
            INSERT INTO entities (tenant, id, types, attr_names, attrs, doc) VALUES ($1, $2, $3, $4, $5, $6)
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
    // the INSERT adds: every CTE runs on the statement's snapshot).
    private const string UpdateSql = """
        WITH e AS (
            UPDATE entities SET types = $3, attr_names = $4, attrs = $5, doc = $6 WHERE tenant = $1 AND id = $2 RETURNING seq),
        td AS (
            DELETE FROM entity_types k USING e WHERE k.entity = e.seq AND NOT (k.type = ANY($3::text[]))),
        ti AS (
            INSERT INTO entity_types (tenant, type, entity)
            SELECT $1, x.type, e.seq FROM e, unnest($3::text[]) AS x(type)
            WHERE NOT EXISTS (SELECT 1 FROM entity_types k WHERE k.entity = e.seq AND k.type = x.type)),
        d AS (
            DELETE FROM entity_geo g USING e WHERE g.entity = e.seq),
        g AS (
            INSERT INTO entity_geo (tenant, entity, prop, box)
            SELECT $1, e.seq, x.prop, public.ST_MakeEnvelope(x.minx, x.miny, x.maxx, x.maxy)
            FROM e, unnest($7::text[], $8::float8[], $9::float8[], $10::float8[], $11::float8[]) AS x(prop, minx, miny, maxx, maxy))
        SELECT count(*) FROM e
        """;

    private readonly NpgsqlConnection _connection;
    private readonly NpgsqlTransaction _transaction;
    private readonly string _tenant;
    private readonly bool _deferWrites;

    // What GetAsync found for each id (true: the row exists and is locked by this transaction).
    private readonly Dictionary<string, bool> _found = new(StringComparer.Ordinal);
    private readonly List<(string Sql, EntityRow Row)> _pending = [];
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

    public async ValueTask<bool> InsertAsync(JsonObject entity, CancellationToken cancellationToken)
    {
        Check(cancellationToken);
        var row = EntityRow.Of(entity);
        if (await TryDeferAsync(InsertSql, row, expectFound: false, cancellationToken).ConfigureAwait(false))
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
        if (await TryDeferAsync(UpdateSql, row, expectFound: true, cancellationToken).ConfigureAwait(false))
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
        // The geo boxes go with the row (ON DELETE CASCADE).
        await using var command = new NpgsqlCommand("DELETE FROM entities WHERE tenant = $1 AND id = $2", _connection, _transaction);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _tenant });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = id });
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) > 0;
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
        foreach (var (sql, row) in _pending)
        {
            var command = new NpgsqlBatchCommand(sql);
            AddRowParameters(command.Parameters, row);
            batch.BatchCommands.Add(command);
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
            do
            {
                // Every statement answers one count: 0 means the insert met an existing id, or the update a
                // missing row.
                conflict |= !await reader.ReadAsync(cancellationToken).ConfigureAwait(false) || reader.GetInt64(0) == 0;
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
    private async ValueTask<bool> TryDeferAsync(string sql, EntityRow row, bool expectFound, CancellationToken cancellationToken)
    {
        if (_pendingIds.Contains(row.Id))
        {
            // A second write of one id: its outcome depends on the first, so the first goes now.
            await FlushAsync(cancellationToken).ConfigureAwait(false);
            return false;
        }

        if (!_deferWrites || !_found.TryGetValue(row.Id, out var found) || found != expectFound)
        {
            return false;
        }

        _pending.Add((sql, row));
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
