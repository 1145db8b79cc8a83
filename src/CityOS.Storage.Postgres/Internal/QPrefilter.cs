using System.Text.Json.Nodes;
using CityOS.NgsiLd.Model;
using CityOS.NgsiLd.Query;
using NpgsqlTypes;

namespace CityOS.Storage.Postgres.Internal;

/// <summary>
/// A q expression as a SQL condition on the entities row (alias <c>e</c>) that every match of the
/// expression satisfies: a superset, never exact, so <see cref="CityOS.Broker.Storage.EntityQuery.Matches"/>
/// still decides on the doc. It reads the vals column (per attribute, the scalars of its instances; see
/// <see cref="EntityRow.ValuesOf"/>) and attr_names:
/// <list type="bullet">
/// <item>a term on a bare attribute against a number: some number of the attribute within the bound(s),
/// widened by a relative 1e-9 so that .NET's double rounding never puts a match outside;</item>
/// <item>against a string (not temporal) or boolean with <c>==</c>: containment <c>vals @&gt; {"attr": [x]}</c>,
/// which the GIN index answers; a string order (<c>&gt;</c>, <c>a..b</c>) only for ASCII literals, where
/// PostgreSQL's code-point order and .NET's UTF-16 ordinal order agree;</item>
/// <item>any other term (<c>!=</c>, regex, temporal values, paths into sub-attributes or JSON keys): the
/// attribute exists;</item>
/// <item><c>;</c> is AND of what its operands give, <c>|</c> OR when every operand gives a condition,
/// <c>!attr</c> nothing.</item>
/// </list>
/// </summary>
internal static class QPrefilter
{
    /// <summary>
    /// The condition, or null when q gives none. <paramref name="add"/> binds a parameter (text or jsonb)
    /// and returns its placeholder.
    /// </summary>
    public static string? Of(QExpression q, Func<string, NpgsqlDbType, string> add)
    {
        ArgumentNullException.ThrowIfNull(q);
        ArgumentNullException.ThrowIfNull(add);
        return Condition(q, add, 0);
    }

    private static string? Condition(QExpression q, Func<string, NpgsqlDbType, string> add, int depth)
    {
        // The parser bounds nesting already; this bound only keeps a hand-built tree from recursing deep.
        if (depth > QParser.MaxDepth * 2)
        {
            return null;
        }

        switch (q)
        {
            case QAnd and:
                {
                    var parts = new List<string>();
                    foreach (var operand in and.Operands)
                    {
                        if (Condition(operand, add, depth + 1) is { } part)
                        {
                            parts.Add(part);
                        }
                    }

                    return parts.Count switch
                    {
                        0 => null,
                        1 => parts[0],
                        _ => "(" + string.Join(" AND ", parts) + ")",
                    };
                }

            case QOr or:
                {
                    var parts = new List<string>();
                    foreach (var operand in or.Operands)
                    {
                        if (Condition(operand, add, depth + 1) is not { } part)
                        {
                            return null;
                        }

                        parts.Add(part);
                    }

                    return parts.Count == 1 ? parts[0] : "(" + string.Join(" OR ", parts) + ")";
                }

            case QExists exists:
                return Present(exists.Path.Attribute, add);
            case QComparison comparison:
                return (comparison.Path.IsSimple && Names.IsAttributeKey(comparison.Path.Attribute)
                        ? ValueCondition(comparison, add)
                        : null)
                    ?? Present(comparison.Path.Attribute, add);
            default:
                // QAbsent, and any node kind added later: no condition.
                return null;
        }
    }

    // Every comparison and existence test reads the attribute's own key first.
    private static string? Present(string attribute, Func<string, NpgsqlDbType, string> add) =>
        Names.IsAttributeKey(attribute) ? "e.attr_names @> ARRAY[" + add(attribute, NpgsqlDbType.Text) + "]" : null;

    private static string? ValueCondition(QComparison comparison, Func<string, NpgsqlDbType, string> add)
    {
        var attribute = comparison.Path.Attribute;
        switch (comparison.Operator)
        {
            case QOperator.Equal:
                return Positive(attribute, comparison.Value, add);
            case QOperator.Greater or QOperator.GreaterOrEqual when comparison.Value is QLiteral literal:
                return Bound(attribute, literal, lower: true, add);
            case QOperator.Less or QOperator.LessOrEqual when comparison.Value is QLiteral literal:
                return Bound(attribute, literal, lower: false, add);
            default:
                return null;
        }
    }

    private static string? Positive(string attribute, QValue value, Func<string, NpgsqlDbType, string> add)
    {
        switch (value)
        {
            case QLiteral literal:
                return Equal(attribute, literal, add);
            case QValueList list:
                {
                    var parts = new List<string>(list.Items.Count);
                    foreach (var item in list.Items)
                    {
                        if (Equal(attribute, item, add) is not { } part)
                        {
                            return null;
                        }

                        parts.Add(part);
                    }

                    return "(" + string.Join(" OR ", parts) + ")";
                }

            case QRange { Low.Kind: QValueKind.Number, High.Kind: QValueKind.Number } numbers:
                return Range(attribute, Lower(numbers.Low.Number), Upper(numbers.High.Number), add);
            case QRange range when IsOrderedString(range.Low) && IsOrderedString(range.High):
                return Range(attribute, JsonValue.Create(range.Low.Text), JsonValue.Create(range.High.Text), add);
            default:
                return null;
        }
    }

    private static string? Equal(string attribute, QLiteral literal, Func<string, NpgsqlDbType, string> add)
    {
        switch (literal.Kind)
        {
            case QValueKind.Number:
                return Range(attribute, Lower(literal.Number), Upper(literal.Number), add);
            case QValueKind.Boolean:
                return Contains(attribute, JsonValue.Create(literal.Boolean), add);
            case QValueKind.Uri or QValueKind.String when literal.Text.Contains('\0', StringComparison.Ordinal):
                // jsonb cannot hold U+0000 (vals keeps such text only up to it).
                return null;
            case QValueKind.Uri:
            case QValueKind.String when literal.DateTime is null && literal.Date is null && literal.Time is null:
                // Property values and Relationship objects compare with the text, VocabProperty vocabs with
                // its expansion.
                var text = Contains(attribute, JsonValue.Create(literal.Text), add);
                return literal.VocabIri is { } iri && !string.Equals(iri, literal.Text, StringComparison.Ordinal) && !iri.Contains('\0', StringComparison.Ordinal)
                    ? "(" + text + " OR " + Contains(attribute, JsonValue.Create(iri), add) + ")"
                    : text;
            default:
                // Temporal values compare as instants, whatever their spelling.
                return null;
        }
    }

    private static string? Bound(string attribute, QLiteral literal, bool lower, Func<string, NpgsqlDbType, string> add)
    {
        if (literal.Kind == QValueKind.Number)
        {
            return lower
                ? Range(attribute, Lower(literal.Number), null, add)
                : Range(attribute, null, Upper(literal.Number), add);
        }

        if (IsOrderedString(literal))
        {
            var text = JsonValue.Create(literal.Text);
            return lower ? Range(attribute, text, null, add) : Range(attribute, null, text, add);
        }

        return null;
    }

    // A string the evaluator orders by ordinal comparison (not temporal) and whose code-point order agrees
    // with UTF-16 order against any text: ASCII only (they differ only between surrogates and U+E000–U+FFFF).
    private static bool IsOrderedString(QLiteral literal) =>
        !literal.Text.Contains('\0', StringComparison.Ordinal)
        && (literal.Kind == QValueKind.Uri
            || (literal.Kind == QValueKind.String && literal.DateTime is null && literal.Date is null && literal.Time is null))
        && System.Text.Ascii.IsValid(literal.Text);

    private static JsonValue? Lower(double c) => Widened(c - Slack(c));

    private static JsonValue? Upper(double c) => Widened(c + Slack(c));

    // The slack covers the rounding between the doc's exact decimal (as jsonb holds it) and the double
    // .NET compares; a bound that is not finite cannot be written in JSON and gives no condition.
    private static double Slack(double c) => (Math.Abs(c) * 1e-9) + 1e-9;

    private static JsonValue? Widened(double bound) => double.IsFinite(bound) ? JsonValue.Create(bound) : null;

    private static string Contains(string attribute, JsonValue scalar, Func<string, NpgsqlDbType, string> add) =>
        "e.vals @> " + add(new JsonObject { [attribute] = new JsonArray(scalar) }.ToJsonString(), NpgsqlDbType.Jsonb);

    /// <summary>Some scalar of the attribute lies in [low, high] (a missing side is open); null when neither side is known.</summary>
    private static string? Range(string attribute, JsonValue? low, JsonValue? high, Func<string, NpgsqlDbType, string> add)
    {
        var path = (low, high) switch
        {
            (not null, not null) => "'$[*] ? (@ >= $lo && @ <= $hi)'",
            (not null, null) => "'$[*] ? (@ >= $lo)'",
            (null, not null) => "'$[*] ? (@ <= $hi)'",
            _ => null,
        };
        if (path is null)
        {
            return null;
        }

        var vars = new JsonObject();
        if (low is not null)
        {
            vars["lo"] = low;
        }

        if (high is not null)
        {
            vars["hi"] = high;
        }

        return "jsonb_path_exists(e.vals -> " + add(attribute, NpgsqlDbType.Text) + ", " + path + ", "
            + add(vars.ToJsonString(), NpgsqlDbType.Jsonb) + ")";
    }
}
