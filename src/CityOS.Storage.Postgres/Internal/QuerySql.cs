using System.Text;
using System.Text.Json.Nodes;
using CityOS.Broker.Storage;
using CityOS.NgsiLd.Geo;
using CityOS.NgsiLd.Model;
using CityOS.NgsiLd.Query;
using Npgsql;
using NpgsqlTypes;

namespace CityOS.Storage.Postgres.Internal;

/// <summary>
/// One query as SQL: the filters an index can decide go into the WHERE clause (ids, types through
/// entity_types, attribute names on the GIN index, the geo search box as an <c>&amp;&amp;</c> on entity_geo's GiST
/// index); everything else (q, scopeQ, idPattern, the exact geo relation, type expressions with AND) is
/// decided by <see cref="EntityQuery.Matches"/> on the parsed doc. When the SQL alone is exact, paging and
/// counting run in the database and no doc is parsed beyond the page.
/// </summary>
internal sealed class QuerySql
{
    private QuerySql(string where, string order, List<NpgsqlParameter> parameters, bool exact, bool qInSql)
    {
        QInSql = qInSql;
        Where = where;
        Order = order;
        Parameters = parameters;
        Exact = exact;
    }

    /// <summary>The creation-order column of the driving table (what ORDER BY and keyset chunks use).</summary>
    public string Order { get; }

    /// <summary>"FROM entities e WHERE …" with parameters $1…$n.</summary>
    public string Where { get; }

    public List<NpgsqlParameter> Parameters { get; }

    /// <summary>The sorted seqs of the geo box's entities when they drive the query (see <see cref="ForAsync"/>).</summary>
    public long[]? GeoSeqs { get; private init; }

    /// <summary>The index in <see cref="Parameters"/> of the <see cref="GeoSeqs"/> array.</summary>
    public int GeoSeqsParameter { get; private init; } = -1;

    /// <summary>True when part of q is checked by the WHERE clause (see <see cref="QPrefilter"/>).</summary>
    public bool QInSql { get; }

    /// <summary>True when the WHERE clause accepts exactly what <see cref="EntityQuery.Matches"/> accepts.</summary>
    public bool Exact { get; }

    /// <summary>
    /// Most entities a geo search box may hold for its candidates to drive the query as a list of seqs
    /// (see <see cref="ForAsync"/>); a larger box keeps the IN (subquery) form, as before the list existed.
    /// </summary>
    internal const int MaxGeoDriverEntities = 10_000;

    /// <summary>
    /// The SQL of <paramref name="query"/>. A geo search box is looked up first on entity_geo's GiST index
    /// (at most <see cref="MaxGeoDriverEntities"/> + 1 rows): when it holds few enough entities their seqs
    /// drive the query, one primary-key lookup each, whatever the planner's statistics say. Planned from
    /// the statistics instead, a geo query right after 100,000 entities were seeded (not yet analyzed)
    /// walked every entity in creation order: 693 ms against 10 ms.
    /// </summary>
    public static async Task<QuerySql> ForAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string tenant, EntityQuery query, CancellationToken cancellationToken)
    {
        if (query.Geo is not { SearchBox: not null } geo || query.Ids is { Count: > 0 })
        {
            return For(tenant, query, null);
        }

        var seqs = new List<long>();
        await using (var probe = GeoProbe(string.Empty, connection, transaction, tenant, geo))
        {
            await using var reader = await probe.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                seqs.Add(reader.GetInt64(0));
            }
        }

        if (seqs.Count > MaxGeoDriverEntities)
        {
            return For(tenant, query, null);
        }

        seqs.Sort();
        var distinct = new List<long>(seqs.Count);
        foreach (var seq in seqs)
        {
            if (distinct.Count == 0 || distinct[^1] != seq)
            {
                distinct.Add(seq);
            }
        }

        return For(tenant, query, [.. distinct]);
    }

    // The entities in the geo search box, on entity_geo's GiST index, at most one more than a list may hold.
    private static NpgsqlCommand GeoProbe(string prefix, NpgsqlConnection connection, NpgsqlTransaction? transaction, string tenant, GeoQuery geo)
    {
        var box = geo.SearchBox!.Value;
#pragma warning disable CA2100 // The prefix is "" or "EXPLAIN "; every value is a parameter.
        var probe = new NpgsqlCommand(
            prefix + "SELECT g.entity FROM entity_geo g WHERE g.tenant = $1 AND g.box && public.ST_MakeEnvelope($2, $3, $4, $5) AND g.prop = $6 LIMIT $7",
            connection,
            transaction);
#pragma warning restore CA2100
        probe.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant });
        probe.Parameters.Add(new NpgsqlParameter<double> { TypedValue = box.MinX });
        probe.Parameters.Add(new NpgsqlParameter<double> { TypedValue = box.MinY });
        probe.Parameters.Add(new NpgsqlParameter<double> { TypedValue = box.MaxX });
        probe.Parameters.Add(new NpgsqlParameter<double> { TypedValue = box.MaxY });
        probe.Parameters.Add(new NpgsqlParameter<string> { TypedValue = geo.GeoProperty });
        probe.Parameters.Add(new NpgsqlParameter<long> { TypedValue = MaxGeoDriverEntities + 1 });
        return probe;
    }

    /// <summary>The SQL of <paramref name="query"/>; <paramref name="geoSeqs"/>, when given, are the (sorted) candidates of its geo box.</summary>
    public static QuerySql For(string tenant, EntityQuery query, long[]? geoSeqs = null)
    {
        var parameters = new List<NpgsqlParameter>();
        string Add<T>(T value, NpgsqlDbType? type = null)
        {
            var parameter = new NpgsqlParameter<T> { TypedValue = value };
            if (type is { } t)
            {
                parameter.NpgsqlDbType = t;
            }

            parameters.Add(parameter);
            return "$" + parameters.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        var where = new StringBuilder();
        var order = "e.seq";
        var exact = query.Q is null && query.ScopeQ is null && query.Geo is null && query.IdPattern is null;
        var typeOnRow = false;
        var geoSeqsParameter = -1;
        if (geoSeqs is not null)
        {
            // The box's entities drive in seq order, one primary-key lookup each (LATERAL with OFFSET 0 keeps
            // the nested loop); the type is then checked on the row's own types column, not by a join the
            // planner could turn into a walk of the whole type.
            var tenantSlot = Add(tenant);
            geoSeqsParameter = parameters.Count;
            where.Append(" FROM unnest(").Append(Add(geoSeqs, NpgsqlDbType.Array | NpgsqlDbType.Bigint))
                .Append("::bigint[]) AS s(seq) CROSS JOIN LATERAL (SELECT * FROM entities x WHERE x.seq = s.seq OFFSET 0) e WHERE e.tenant = ")
                .Append(tenantSlot);
            order = "s.seq";
            typeOnRow = true;
        }
        else if (query.Type is TypeName typeName && query.Ids is not { Count: > 0 } && query.Geo?.SearchBox is null)
        {
            // entity_types drives, in its index order (= creation order), one entity lookup per row, so a page
            // stops at its end. The LATERAL with OFFSET 0 keeps that nested loop: flattened, the planner chose a
            // merge join that walked the entities of every earlier-created type first (11 ms against 0.5 ms
            // for a page of 200 of 5,000 entities created after 20,000 others).
            where.Append(" FROM entity_types k CROSS JOIN LATERAL (SELECT * FROM entities x WHERE x.seq = k.entity OFFSET 0) e WHERE k.tenant = ")
                .Append(Add(tenant)).Append(" AND k.type = ").Append(Add(typeName.Iri));
            order = "k.entity";
        }
        else
        {
            where.Append(" FROM entities e WHERE e.tenant = ").Append(Add(tenant));
        }

        if (query.Ids is { Count: > 0 })
        {
            where.Append(" AND e.id = ANY(").Append(Add(query.Ids.ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Text)).Append(')');
        }

        if (order == "k.entity")
        {
            // The single type name is decided by the driver, exactly.
        }
        else if (query.Type is { Types.Count: > 0 } type)
        {
            // Type expressions only combine names with AND/OR, so every match holds at least one of the named
            // types: entity_types gives a superset, exact for a single name.
            if (typeOnRow)
            {
                // e.types holds the entity's distinct types, as entity_types does.
                where.Append(type is TypeName ? " AND e.types @> " : " AND e.types && ")
                    .Append(Add(type.Types.ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Text));
                exact &= type is TypeName;
            }
            else if (type is TypeName single)
            {
                where.Append(" AND e.seq IN (SELECT k.entity FROM entity_types k WHERE k.tenant = $1 AND k.type = ").Append(Add(single.Iri)).Append(')');
            }
            else
            {
                where.Append(" AND e.seq IN (SELECT k.entity FROM entity_types k WHERE k.tenant = $1 AND k.type = ANY(")
                    .Append(Add(type.Types.ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Text)).Append("))");
                exact = false;
            }
        }
        else if (query.Type is not null and not AnyType)
        {
            exact = false;
        }

        if (query.Attrs is { Count: > 0 } attrs)
        {
            // attr_names holds attribute keys only (keys with ':'); a core member can only be checked on the doc.
            if (attrs.All(Names.IsAttributeKey))
            {
                where.Append(" AND e.attr_names && ").Append(Add(attrs.ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Text));
            }
            else
            {
                exact = false;
            }
        }

        if (query.Geo?.SearchBox is { } box && geoSeqs is null)
        {
            where.Append(" AND e.seq IN (SELECT g.entity FROM entity_geo g WHERE g.tenant = $1 AND g.box && public.ST_MakeEnvelope(")
                .Append(Add(box.MinX)).Append(", ").Append(Add(box.MinY)).Append(", ")
                .Append(Add(box.MaxX)).Append(", ").Append(Add(box.MaxY)).Append(") AND g.prop = ")
                .Append(Add(query.Geo.GeoProperty)).Append(')');
        }

        var qInSql = false;
        if (query.Q is { } q && QPrefilter.Of(q, (value, type) => Add(value, type)) is { } prefilter)
        {
            where.Append(" AND ").Append(prefilter);
            qInSql = true;
        }

        return new QuerySql(where.ToString(), order, parameters, exact, qInSql) { GeoSeqs = geoSeqs, GeoSeqsParameter = geoSeqsParameter };
    }

    /// <summary>A page of matches, with the total count when the query asks for it.</summary>
    public static async Task<EntityPage> PageAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string tenant, EntityQuery query, CancellationToken cancellationToken)
    {
        var sql = await ForAsync(connection, transaction, tenant, query, cancellationToken).ConfigureAwait(false);
        if (sql.Exact)
        {
            long? total = null;
            if (query.Count)
            {
                await using var count = sql.Command("SELECT count(*)" + sql.Where, connection, transaction);
                total = (long)(await count.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            }

            var page = new List<JsonObject>();
            if (query.Limit > 0)
            {
                var n = sql.Parameters.Count;
                await using var select = sql.Command(
                    $"SELECT e.doc{sql.Where} ORDER BY {sql.Order} OFFSET ${n + 1} LIMIT ${n + 2}",
                    connection,
                    transaction);
                select.Parameters.Add(new NpgsqlParameter<long> { TypedValue = Math.Max(0, query.Offset) });
                select.Parameters.Add(new NpgsqlParameter<long> { TypedValue = query.Limit });
                await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    page.Add(EntityRow.ParseDoc(reader.GetString(0)));
                }
            }

            return new EntityPage(page, total);
        }

        var entities = new List<JsonObject>();
        long matched = 0;
        if (query.Count)
        {
            // Every candidate must be seen for the count: one statement streams them all.
            await using var command = sql.Command($"SELECT e.doc{sql.Where} ORDER BY {sql.Order}", connection, transaction);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var entity = EntityRow.ParseDoc(reader.GetString(0));
                if (query.Matches(entity))
                {
                    if (matched >= query.Offset && entities.Count < query.Limit)
                    {
                        entities.Add(entity);
                    }

                    matched++;
                }
            }

            return new EntityPage(entities, matched);
        }

        // Without a count only the page is needed: candidates come in growing chunks after the last seq seen,
        // so a selective q over a large type does not ship the whole type (a reader closed early still
        // reads its remaining rows off the wire).
        var slot = sql.Parameters.Count;
        var text = $"SELECT e.seq, e.doc{sql.Where} AND {sql.Order} > ${slot + 1} ORDER BY {sql.Order} LIMIT ${slot + 2}";
        var after = long.MinValue;
        // With q checked in SQL most candidates are matches: the first chunk is about the page itself (a
        // chunk twice the page walked twice the entities for temperature>35;relativeHumidity<0.5).
        var chunk = sql.QInSql
            ? Math.Clamp(query.Offset + query.Limit + 16L, 32, 1024)
            : Math.Clamp((query.Offset + query.Limit) * 2L, 64, 1024);
        // Geo candidates drive as a list: each chunk binds only its slice of the list, so the database looks
        // up that many entities, not the whole box's before sorting (it cannot know the list is sorted).
        var pending = sql.GeoSeqs;
        var position = 0;
        while (true)
        {
            var rows = 0;
            var lastSlice = false;
            await using (var command = sql.Command(text, connection, transaction))
            {
                if (pending is not null)
                {
                    var take = (int)Math.Min(chunk, pending.Length - position);
                    command.Parameters[sql.GeoSeqsParameter].Value = pending[position..(position + take)];
                    position += take;
                    lastSlice = position >= pending.Length;
                }

                command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = after });
                command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = chunk });
                await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    rows++;
                    after = reader.GetInt64(0);
                    var entity = EntityRow.ParseDoc(reader.GetString(1));
                    if (!query.Matches(entity))
                    {
                        continue;
                    }

                    if (matched >= query.Offset)
                    {
                        if (entities.Count >= query.Limit)
                        {
                            return new EntityPage(entities, null);
                        }

                        entities.Add(entity);
                    }

                    matched++;
                }
            }

            if (pending is not null)
            {
                if (lastSlice || entities.Count >= query.Limit)
                {
                    return new EntityPage(entities, null);
                }

                after = pending[position - 1];
            }
            else if (rows < chunk || entities.Count >= query.Limit)
            {
                return new EntityPage(entities, null);
            }

            chunk = Math.Min(chunk * 4, 16384);
        }
    }

    /// <summary>The ids of every match in creation order (paging ignored).</summary>
    public static async Task<IReadOnlyList<string>> IdsAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string tenant, EntityQuery query, CancellationToken cancellationToken)
    {
        var sql = await ForAsync(connection, transaction, tenant, query, cancellationToken).ConfigureAwait(false);
        var ids = new List<string>();
        await using var command = sql.Command(
            sql.Exact ? $"SELECT e.id, NULL{sql.Where} ORDER BY {sql.Order}" : $"SELECT e.id, e.doc{sql.Where} ORDER BY {sql.Order}",
            connection,
            transaction);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (sql.Exact || query.Matches(EntityRow.ParseDoc(reader.GetString(1))))
            {
                ids.Add(reader.GetString(0));
            }
        }

        return ids;
    }

    /// <summary>The plan PostgreSQL chooses for the candidate query (EXPLAIN), for tests and diagnostics.</summary>
    public static async Task<string> ExplainAsync(NpgsqlConnection connection, string tenant, EntityQuery query, CancellationToken cancellationToken)
    {
        var sql = await ForAsync(connection, null, tenant, query, cancellationToken).ConfigureAwait(false);
        var lines = new StringBuilder();
        if (query.Geo is { SearchBox: not null } geo && query.Ids is not { Count: > 0 })
        {
            // The geo search box is looked up first (see ForAsync): its plan comes first.
            await using var probe = GeoProbe("EXPLAIN ", connection, null, tenant, geo);
            await ReadLinesAsync(probe, lines, cancellationToken).ConfigureAwait(false);
        }

        await using var command = sql.Command($"EXPLAIN SELECT e.doc{sql.Where} ORDER BY {sql.Order}", connection, null);
        await ReadLinesAsync(command, lines, cancellationToken).ConfigureAwait(false);
        return lines.ToString();
    }

    private static async Task ReadLinesAsync(NpgsqlCommand command, StringBuilder lines, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            lines.AppendLine(reader.GetString(0));
        }
    }

    private NpgsqlCommand Command(string text, NpgsqlConnection connection, NpgsqlTransaction? transaction)
    {
#pragma warning disable CA2100 // The text is built from fixed fragments; every value is a parameter.
        var command = new NpgsqlCommand(text, connection, transaction);
#pragma warning restore CA2100
        foreach (var parameter in Parameters)
        {
            command.Parameters.Add(parameter.Clone());
        }

        return command;
    }
}
