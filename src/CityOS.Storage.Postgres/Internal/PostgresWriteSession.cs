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
    private bool _closed;

    public PostgresWriteSession(NpgsqlConnection connection, NpgsqlTransaction transaction, string tenant)
    {
        _connection = connection;
        _transaction = transaction;
        _tenant = tenant;
    }

    public async ValueTask<JsonObject?> GetAsync(string id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(id);
        Check(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT doc FROM entities WHERE tenant = $1 AND id = $2 FOR UPDATE", _connection, _transaction);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _tenant });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = id });
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is string doc ? EntityRow.ParseDoc(doc) : null;
    }

    public async ValueTask<bool> InsertAsync(JsonObject entity, CancellationToken cancellationToken)
    {
        Check(cancellationToken);
        return await WriteRowAsync(InsertSql, EntityRow.Of(entity), cancellationToken).ConfigureAwait(false) > 0;
    }

    public async ValueTask UpdateAsync(JsonObject entity, CancellationToken cancellationToken)
    {
        Check(cancellationToken);
        var row = EntityRow.Of(entity);
        if (await WriteRowAsync(UpdateSql, row, cancellationToken).ConfigureAwait(false) == 0)
        {
            throw NgsiLdException.NotFound($"Entity '{row.Id}' does not exist, so it cannot be updated.");
        }
    }

    public async ValueTask<bool> DeleteAsync(string id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(id);
        Check(cancellationToken);
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
        return await QuerySql.IdsAsync(_connection, _transaction, _tenant, query, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Ends the session: the work may keep a reference, but may not use it after WriteAsync returns.</summary>
    public void Close() => _closed = true;

    private async Task<long> WriteRowAsync(string sql, EntityRow row, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, _connection, _transaction);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _tenant });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = row.Id });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = row.Types });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = row.AttributeNames });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = row.AttributePairs, NpgsqlDbType = NpgsqlDbType.Jsonb });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = row.Doc, NpgsqlDbType = NpgsqlDbType.Json });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. row.Geo.Properties] });
        command.Parameters.Add(new NpgsqlParameter<double[]> { TypedValue = [.. row.Geo.MinX] });
        command.Parameters.Add(new NpgsqlParameter<double[]> { TypedValue = [.. row.Geo.MinY] });
        command.Parameters.Add(new NpgsqlParameter<double[]> { TypedValue = [.. row.Geo.MaxX] });
        command.Parameters.Add(new NpgsqlParameter<double[]> { TypedValue = [.. row.Geo.MaxY] });
        return (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    private void Check(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_closed, this);
        cancellationToken.ThrowIfCancellationRequested();
    }
}
