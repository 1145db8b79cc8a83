using System.Text.Json.Nodes;
using CityOS.Broker.Storage;
using CityOS.NgsiLd.Model;
using CityOS.NgsiLd.Query;
using Microsoft.Data.Sqlite;

namespace CityOS.Storage.Sqlite.Internal;

/// <summary>Which index produces the candidate entities of a query.</summary>
internal enum QueryDriver
{
    Scan,
    Ids,
    Type,
    Types,
    Geo,
    Attribute,
    Attributes,
}

/// <summary>
/// How one query runs: the most selective index available drives the candidates (ids, then the R-tree,
/// then type, then attributes, else the tenant in creation order); exact filters that need no doc (id,
/// idPattern, type on the types column, attrs via entity_attrs) are applied before any doc is parsed, and
/// the doc is parsed only for the remaining filters (q, scopeQ, geo) or when the entity is returned.
/// </summary>
internal sealed class QueryPlan
{
    private const string Columns = "SELECT e.seq, e.id, e.types, e.doc";

    private const string AttrsExists =
        " AND EXISTS (SELECT 1 FROM entity_attrs a WHERE a.tenant = $t AND a.attr IN (SELECT value FROM json_each($attrs)) AND a.entity = e.seq)";

    /// <summary>How many numeric q comparisons the SQL prefilter checks at most (fixed slots keep the SQL text fixed).</summary>
    public const int MaxPrefilterSlots = 2;

    private static readonly string QPrefilter = QPrefilterSlots();

    // Indexed by ((int)driver * 2 + (attrs EXISTS ? 1 : 0)) * 2 + (q prefilter ? 1 : 0); SQL text is fixed so
    // commands stay prepared.
    private static readonly string[] SqlTexts = BuildSqlTexts();

    private QueryPlan(QueryDriver driver, bool attrsInSql, bool attrsExists, bool needsDoc, List<QBound> prefilter)
    {
        Driver = driver;
        AttributesInSql = attrsInSql;
        NeedsDoc = needsDoc;
        Prefilter = prefilter;
        Sql = SqlTexts[((((int)driver * 2) + (attrsExists ? 1 : 0)) * 2) + (prefilter.Count > 0 ? 1 : 0)];
    }

    /// <summary>Numeric q comparisons checked in SQL before any doc is parsed (a superset: q still decides).</summary>
    public IReadOnlyList<QBound> Prefilter { get; }

    public QueryDriver Driver { get; }

    /// <summary>True when the attrs filter is enforced exactly by the SQL.</summary>
    public bool AttributesInSql { get; }

    /// <summary>True when a filter can only be decided on the parsed doc.</summary>
    public bool NeedsDoc { get; }

    public string Sql { get; }

    public static QueryPlan For(EntityQuery query)
    {
        var hasAttrs = query.Attrs is { Count: > 0 };

        // entity_attrs holds every attribute key (keys with ':'); other names can only be checked on the doc.
        var attrsPushable = hasAttrs && query.Attrs!.All(Names.IsAttributeKey);
        QueryDriver driver;
        if (query.Ids is { Count: > 0 })
        {
            driver = QueryDriver.Ids;
        }
        else if (query.Geo?.SearchBox is not null)
        {
            // A geo filter needs every candidate's doc parsed, so the R-tree drives even when a type is
            // given: its candidates (those in the box) are never more than the type's, and the type is then
            // checked on the types column before any doc is parsed. Driving from a type of 100,000 entities
            // parsed all of them for a 4 km 'near' box holding a few hundred.
            driver = QueryDriver.Geo;
        }
        else if (query.Type is { Types.Count: > 0 })
        {
            // Type expressions (§4.17) only combine names with AND/OR, so every match holds at least one
            // of the named types: the index gives a superset, which the expression then narrows.
            driver = query.Type.Types.Count == 1 ? QueryDriver.Type : QueryDriver.Types;
        }
        else if (attrsPushable)
        {
            driver = query.Attrs!.Distinct(StringComparer.Ordinal).Count() == 1 ? QueryDriver.Attribute : QueryDriver.Attributes;
        }
        else
        {
            driver = QueryDriver.Scan;
        }

        var attrsDrive = driver is QueryDriver.Attribute or QueryDriver.Attributes;
        var needsDoc = query.Q is not null || query.ScopeQ is not null || query.Geo is not null || (hasAttrs && !attrsPushable);
        var prefilter = new List<QBound>();
        CollectBounds(query.Q, prefilter);
        return new QueryPlan(driver, attrsPushable, attrsPushable && !attrsDrive, needsDoc, prefilter);
    }

    /// <summary>
    /// The numeric comparisons (&gt;, &gt;=, &lt;, &lt;= against a number, on a plain attribute) that every match
    /// of <paramref name="q"/> must satisfy: q itself or the operands of a top-level AND, at most
    /// <see cref="MaxPrefilterSlots"/>. Anything under OR is left to the evaluator.
    /// </summary>
    private static void CollectBounds(QExpression? q, List<QBound> bounds)
    {
        switch (q)
        {
            case QAnd and:
                foreach (var operand in and.Operands)
                {
                    CollectBounds(operand, bounds);
                }

                break;
            case QComparison { Path.IsSimple: true, Value: QLiteral { Kind: QValueKind.Number } literal } comparison
                when bounds.Count < MaxPrefilterSlots && double.IsFinite(literal.Number)
                    && comparison.Path.Attribute.AsSpan().IndexOfAny('"', '\\') < 0:
                // The slack widens the bound past any rounding difference between SQLite's and .NET's number
                // parsing (and int64 versus double), so the SQL never drops an entity the evaluator keeps.
                var c = literal.Number;
                var slack = (Math.Abs(c) * 1e-9) + 1e-9;
                switch (comparison.Operator)
                {
                    case QOperator.Greater or QOperator.GreaterOrEqual:
                        bounds.Add(new QBound(comparison.Path.Attribute, c - slack, double.MaxValue));
                        break;
                    case QOperator.Less or QOperator.LessOrEqual:
                        bounds.Add(new QBound(comparison.Path.Attribute, -double.MaxValue, c + slack));
                        break;
                    default:
                        break;
                }

                break;
            default:
                break;
        }
    }

    /// <summary>Binds the parameters of <see cref="Sql"/>.</summary>
    public void Bind(SqliteCommand command, long tenant, EntityQuery query)
    {
        command.Parameters.AddWithValue("$t", tenant);
        switch (Driver)
        {
            case QueryDriver.Ids:
                command.Parameters.AddWithValue("$keys", EntityIndex.JsonArrayOf(query.Ids!));
                break;
            case QueryDriver.Type:
                command.Parameters.AddWithValue("$key", query.Type!.Types.First());
                break;
            case QueryDriver.Types:
                command.Parameters.AddWithValue("$keys", EntityIndex.JsonArrayOf(query.Type!.Types));
                break;
            case QueryDriver.Geo:
                var box = query.Geo!.SearchBox!.Value;
                command.Parameters.AddWithValue("$minx", box.MinX);
                command.Parameters.AddWithValue("$miny", box.MinY);
                command.Parameters.AddWithValue("$maxx", box.MaxX);
                command.Parameters.AddWithValue("$maxy", box.MaxY);
                command.Parameters.AddWithValue("$prop", query.Geo.GeoProperty);
                break;
            case QueryDriver.Attribute:
                command.Parameters.AddWithValue("$key", query.Attrs![0]);
                break;
            case QueryDriver.Attributes:
                command.Parameters.AddWithValue("$keys", EntityIndex.JsonArrayOf(query.Attrs!));
                break;
            case QueryDriver.Scan:
            default:
                break;
        }

        if (AttributesInSql && Driver is not (QueryDriver.Attribute or QueryDriver.Attributes))
        {
            command.Parameters.AddWithValue("$attrs", EntityIndex.JsonArrayOf(query.Attrs!));
        }

        if (Prefilter.Count > 0)
        {
            for (var k = 0; k < MaxPrefilterSlots; k++)
            {
                var bound = k < Prefilter.Count ? Prefilter[k] : null;
                var path = bound is null ? null : "$.\"" + bound.Attribute + "\"";
                command.Parameters.AddWithValue("$qa" + k, (object?)path ?? DBNull.Value);
                command.Parameters.AddWithValue("$qv" + k, (object?)(path is null ? null : path + "[0].value") ?? DBNull.Value);
                command.Parameters.AddWithValue("$qlo" + k, bound?.Low ?? 0d);
                command.Parameters.AddWithValue("$qhi" + k, bound?.High ?? 0d);
            }
        }
    }

    private static string[] BuildSqlTexts()
    {
        // CROSS JOIN fixes the join order (SQLite never reorders it) so the index table drives and its
        // order is the creation order; IN (subquery) forms are used where several keys must be merged.
        var drivers = new Dictionary<QueryDriver, (string From, string Where, string Order)>
        {
            [QueryDriver.Scan] = (" FROM entities e INDEXED BY entities_by_tenant", " WHERE e.tenant = $t", " ORDER BY e.seq"),
            [QueryDriver.Ids] = (" FROM json_each($keys) j CROSS JOIN entities e ON e.tenant = $t AND e.id = j.value", " WHERE 1", " ORDER BY e.seq"),
            [QueryDriver.Type] = (" FROM entity_types k CROSS JOIN entities e ON e.seq = k.entity", " WHERE k.tenant = $t AND k.type = $key", " ORDER BY k.entity"),
            [QueryDriver.Types] = (
                " FROM entities e",
                " WHERE e.seq IN (SELECT entity FROM entity_types WHERE tenant = $t AND type IN (SELECT value FROM json_each($keys)))",
                " ORDER BY e.seq"),
            [QueryDriver.Geo] = (
                " FROM entities e",
                " WHERE e.seq IN (SELECT id >> 16 FROM entity_geo WHERE min_x <= $maxx AND max_x >= $minx AND min_y <= $maxy AND max_y >= $miny AND tenant = $t AND prop = $prop)",
                " ORDER BY e.seq"),
            [QueryDriver.Attribute] = (
                " FROM entity_attrs k CROSS JOIN entities e ON e.seq = k.entity",
                " WHERE k.tenant = $t AND k.attr = $key",
                " ORDER BY k.entity"),
            [QueryDriver.Attributes] = (
                " FROM entities e",
                " WHERE e.seq IN (SELECT entity FROM entity_attrs WHERE tenant = $t AND attr IN (SELECT value FROM json_each($keys)))",
                " ORDER BY e.seq"),
        };
        var texts = new string[drivers.Count * 4];
        foreach (var (driver, (from, where, order)) in drivers)
        {
            var i = (int)driver * 4;
            texts[i] = Columns + from + where + order;
            texts[i + 1] = Columns + from + where + QPrefilter + order;
            texts[i + 2] = Columns + from + where + AttrsExists + order;
            texts[i + 3] = Columns + from + where + QPrefilter + AttrsExists + order;
        }

        return texts;
    }

    /// <summary>
    /// One slot per pushed comparison: the attribute must exist, and when it has exactly one instance with
    /// a numeric value, that value must lie within the bounds. Every other shape (several instances, a
    /// non-numeric value, a JSON or list property) passes, for the evaluator to decide on the parsed doc.
    /// SQLite's JSON functions cache the parse of a doc within the statement, so this costs about a
    /// microsecond per candidate against several for a JsonNode parse.
    /// </summary>
    private static string QPrefilterSlots()
    {
        var slots = new System.Text.StringBuilder();
        for (var k = 0; k < MaxPrefilterSlots; k++)
        {
            slots.Append(System.Globalization.CultureInfo.InvariantCulture, $"""
                 AND ($qa{k} IS NULL OR CASE
                 WHEN json_type(e.doc, $qa{k}) IS NULL THEN 0
                 WHEN json_array_length(e.doc, $qa{k}) = 1 AND json_type(e.doc, $qv{k}) IN ('integer', 'real')
                 THEN json_extract(e.doc, $qv{k}) BETWEEN $qlo{k} AND $qhi{k}
                 ELSE 1 END)
                """);
        }

        return slots.ToString();
    }
}

/// <summary>A numeric range a plain attribute's value must fall in (bounds already widened; see QueryPlan).</summary>
internal sealed record QBound(string Attribute, double Low, double High);

/// <summary>Runs <see cref="QueryPlan"/>s on a connection (a pooled reader, or the writer inside a transaction).</summary>
internal static class EntityQueryExecutor
{
    /// <summary>One page of matches with the total count when asked.</summary>
    public static EntityPage Page(ICommandSource source, long tenant, EntityQuery query, Func<JsonObject, bool> matcher, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(query.Offset);
        ArgumentOutOfRangeException.ThrowIfNegative(query.Limit);
        var entities = new List<JsonObject>(Math.Min(query.Limit, 1024));
        if (query.Limit == 0 && !query.Count)
        {
            return new EntityPage(entities, null);
        }

        long matched = 0;
        Run(
            source,
            tenant,
            query,
            matcher,
            (reader, doc) =>
            {
                var index = matched++;
                if (index >= query.Offset && entities.Count < query.Limit)
                {
                    entities.Add(doc ?? ParseDoc(reader));
                }

                return query.Count || entities.Count < query.Limit;
            },
            cancellationToken);
        return new EntityPage(entities, query.Count ? matched : null);
    }

    /// <summary>Ids of every match, paging ignored.</summary>
    public static List<string> Ids(ICommandSource source, long tenant, EntityQuery query, Func<JsonObject, bool> matcher, CancellationToken cancellationToken)
    {
        var ids = new List<string>();
        Run(
            source,
            tenant,
            query,
            matcher,
            (reader, _) =>
            {
                ids.Add(reader.GetString(1));
                return true;
            },
            cancellationToken);
        return ids;
    }

    /// <summary>The SQLite query plan of <paramref name="query"/>, one line per step (for tests and diagnostics).</summary>
    public static List<string> Explain(ICommandSource source, long tenant, EntityQuery query)
    {
        var plan = QueryPlan.For(query);
        var command = source.Command("EXPLAIN QUERY PLAN " + plan.Sql);
        plan.Bind(command, tenant, query);
        var lines = new List<string>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            lines.Add(reader.GetString(3));
        }

        return lines;
    }

    public static JsonObject ParseDoc(string doc) => JsonNode.Parse(doc)!.AsObject();

    /// <summary>
    /// Parses the doc column (index 3) of the current row from its UTF-8 bytes: reading it as a string
    /// decoded it to UTF-16 only for the JSON parser to encode it back (~5% of a query's CPU, profiled).
    /// </summary>
    private static JsonObject ParseDoc(SqliteDataReader reader) => ParseDoc(reader.GetFieldValue<byte[]>(3));

    /// <summary>Parses a doc from its stored UTF-8 text, without a UTF-16 string on the way.</summary>
    public static JsonObject ParseDoc(ReadOnlySpan<byte> doc) => JsonNode.Parse(doc)!.AsObject();

    private static void Run(
        ICommandSource source,
        long tenant,
        EntityQuery query,
        Func<JsonObject, bool> matcher,
        Func<SqliteDataReader, JsonObject?, bool> onMatch,
        CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var plan = QueryPlan.For(query);
        var command = source.Command(plan.Sql);
        plan.Bind(command, tenant, query);

        var ids = query.Ids is { Count: > 0 } ? new HashSet<string>(query.Ids, StringComparer.Ordinal) : null;

        // Type expressions are pure functions of the type array, and most entities share a few arrays.
        var typeVerdicts = query.Type is null ? null : new Dictionary<string, bool>(StringComparer.Ordinal);
        var lastSeq = long.MinValue;
        var rows = 0;
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            if ((++rows & 255) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }

            // Every driver yields ascending seq; repeats (an id listed twice, an attribute under two
            // attribute types) are adjacent.
            var seq = reader.GetInt64(0);
            if (seq == lastSeq)
            {
                continue;
            }

            lastSeq = seq;
            var id = reader.GetString(1);
            if ((ids is not null && !ids.Contains(id)) || !query.MatchesIdPattern(id))
            {
                continue;
            }

            if (typeVerdicts is not null)
            {
                var types = reader.GetString(2);
                if (!typeVerdicts.TryGetValue(types, out var typeOk))
                {
                    typeOk = query.Type!.Matches(JsonNode.Parse(types)!.AsArray());
                    typeVerdicts[types] = typeOk;
                }

                if (!typeOk)
                {
                    continue;
                }
            }

            JsonObject? doc = null;
            if (plan.NeedsDoc)
            {
                doc = ParseDoc(reader);
                if (!matcher(doc))
                {
                    continue;
                }
            }

            if (!onMatch(reader, doc))
            {
                break;
            }
        }
    }
}
