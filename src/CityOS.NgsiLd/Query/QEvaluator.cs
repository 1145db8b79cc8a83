using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using CityOS.NgsiLd.Model;

namespace CityOS.NgsiLd.Query;

/// <summary>
/// Evaluates q terms against the internal entity form. This runs for every candidate entity of every
/// query and notification, so it walks the nodes directly: no LINQ, no closures, and string equality
/// through <see cref="JsonElement.ValueEquals(string)"/> so parsed entities are not copied into strings.
/// </summary>
internal static class QEvaluator
{
    private enum TargetKind
    {
        // Property/GeoProperty value, JsonProperty json, ListProperty valueList, instance members.
        Plain,

        // Relationship object(s), ListRelationship objectList: URIs, equality only.
        Uri,

        // VocabProperty vocab: expanded IRIs, compared with the expanded query value, equality only.
        Vocab,

        // The whole languageMap of a LanguageProperty: every language's value(s) are candidates.
        LanguageMap,
    }

    // The regex outcome over a set of candidates; a timeout poisons the whole term.
    private enum RegexOutcome
    {
        NoString,
        NoMatch,
        Match,
        TimedOut,
    }

    public static bool Exists(JsonObject entity, QPath path)
    {
        ArgumentNullException.ThrowIfNull(entity);
        return entity.TryGetPropertyValue(path.Attribute, out var attribute) && Walk(attribute, path, 0, null);
    }

    public static bool Compare(JsonObject entity, QComparison comparison)
    {
        ArgumentNullException.ThrowIfNull(entity);
        return entity.TryGetPropertyValue(comparison.Path.Attribute, out var attribute) && Walk(attribute, comparison.Path, 0, comparison);
    }

    // An attribute is an array of instances in the internal form; a lone object is tolerated.
    private static bool Walk(JsonNode? attribute, QPath path, int depth, QComparison? comparison)
    {
        if (attribute is JsonArray instances)
        {
            for (var i = 0; i < instances.Count; i++)
            {
                if (instances[i] is JsonObject o && Instance(o, path, depth, comparison))
                {
                    return true;
                }
            }

            return false;
        }

        return attribute is JsonObject single && Instance(single, path, depth, comparison);
    }

    private static bool Instance(JsonObject instance, QPath path, int depth, QComparison? comparison)
    {
        var subs = path.SubAttributeArray;
        if (depth < subs.Length)
        {
            return instance.TryGetPropertyValue(subs[depth], out var sub) && Walk(sub, path, depth + 1, comparison);
        }

        if (path.Member is { } member)
        {
            return instance.TryGetPropertyValue(member, out var memberValue) && memberValue is not null
                && (comparison is null || Test(memberValue, TargetKind.Plain, comparison));
        }

        var keys = path.JsonKeyArray;
        JsonNode? target;
        TargetKind kind;

        // The content member tells the attribute type without reading (and allocating) the type string.
        if (instance.TryGetPropertyValue(Names.Value, out target) || instance.TryGetPropertyValue(Names.Json, out target)
            || instance.TryGetPropertyValue(Names.ValueList, out target))
        {
            kind = TargetKind.Plain;
            for (var i = 0; i < keys.Length && target is not null; i++)
            {
                target = target is JsonObject o && o.TryGetPropertyValue(keys[i], out var child) ? child : null;
            }

            target = LiteralValue(target);
        }
        else if (instance.TryGetPropertyValue(Names.LanguageMap, out target))
        {
            if (keys.Length > 1 || target is not JsonObject map)
            {
                return false;
            }

            if (keys.Length == 0 || keys[0] == "*")
            {
                kind = TargetKind.LanguageMap;
                if (map.Count == 0)
                {
                    return false;
                }
            }
            else
            {
                kind = TargetKind.Plain;
                target = map.TryGetPropertyValue(keys[0], out var text) ? text : null;
            }
        }
        else if (instance.TryGetPropertyValue(Names.Object, out target) || instance.TryGetPropertyValue(Names.ObjectList, out target))
        {
            kind = TargetKind.Uri;
            if (keys.Length > 0)
            {
                return false;
            }
        }
        else if (instance.TryGetPropertyValue(Names.Vocab, out target))
        {
            kind = TargetKind.Vocab;
            if (keys.Length > 0)
            {
                return false;
            }
        }
        else
        {
            return false;
        }

        return target is not null && (comparison is null || Test(target, kind, comparison));
    }

    /// <summary>
    /// A JSON-LD typed literal (<c>{"@type": "DateTime", "@value": "…"}</c>, the form §4.6.3 gives temporal
    /// values) is compared by its <c>@value</c>; anything else as it is.
    /// </summary>
    private static JsonNode? LiteralValue(JsonNode? target) =>
        target is JsonObject { Count: 2 } literal && literal.TryGetPropertyValue("@value", out var value) && literal.ContainsKey("@type")
            ? value
            : target;

    private static bool Test(JsonNode target, TargetKind kind, QComparison comparison)
    {
        switch (comparison.Operator)
        {
            case QOperator.Equal:
                return Positive(target, kind, comparison.Value);
            case QOperator.NotEqual:
                return !Positive(target, kind, comparison.Value);
            case QOperator.Matches:
            case QOperator.NotMatches:
                if (kind is TargetKind.Uri or TargetKind.Vocab)
                {
                    return false;
                }

                var outcome = RegexOver(target, kind, ((QPattern)comparison.Value).Regex, RegexOutcome.NoString);
                return comparison.Operator == QOperator.Matches
                    ? outcome == RegexOutcome.Match
                    : outcome == RegexOutcome.NoMatch;
            default:
                return kind is TargetKind.Plain or TargetKind.LanguageMap
                    && Ordered(target, kind, comparison.Operator, (QLiteral)comparison.Value);
        }
    }

    // == semantics: the target equals the value, or is an array containing it (any item of a list, within a range).
    private static bool Positive(JsonNode target, TargetKind kind, QValue value)
    {
        if (target is JsonArray array)
        {
            for (var i = 0; i < array.Count; i++)
            {
                if (array[i] is { } item && PositiveScalar(item, kind, value))
                {
                    return true;
                }
            }

            return false;
        }

        if (kind == TargetKind.LanguageMap && target is JsonObject map)
        {
            for (var i = 0; i < map.Count; i++)
            {
                var text = map.GetAt(i).Value;
                if (text is not null && Positive(text, TargetKind.Plain, value))
                {
                    return true;
                }
            }

            return false;
        }

        return PositiveScalar(target, kind, value);
    }

    private static bool PositiveScalar(JsonNode node, TargetKind kind, QValue value)
    {
        // ListRelationship items are {"object": uri}.
        if (kind == TargetKind.Uri && node is JsonObject item)
        {
            if (!item.TryGetPropertyValue(Names.Object, out var uri) || uri is null)
            {
                return false;
            }

            node = uri;
        }

        if (node is not JsonValue scalar)
        {
            return false;
        }

        switch (value)
        {
            case QLiteral literal:
                return Equal(scalar, kind, literal);
            case QValueList list:
                foreach (var candidate in list.ItemArray)
                {
                    if (Equal(scalar, kind, candidate))
                    {
                        return true;
                    }
                }

                return false;
            case QRange range:
                return kind == TargetKind.Plain
                    && CompareScalar(scalar, range.Low) is >= 0
                    && CompareScalar(scalar, range.High) is <= 0;
            default:
                return false;
        }
    }

    private static bool Equal(JsonValue scalar, TargetKind kind, QLiteral literal) => kind switch
    {
        TargetKind.Uri => literal.Kind is QValueKind.String or QValueKind.Uri && StringEquals(scalar, literal.Text),
        TargetKind.Vocab => literal.VocabIri is { } iri && StringEquals(scalar, iri),
        _ => IsPlainString(literal)
            ? StringEquals(scalar, literal.Text)
            : CompareScalar(scalar, literal) == 0,
    };

    // A string or URI that is not temporal compares by plain equality, without materialising the target.
    private static bool IsPlainString(QLiteral literal) =>
        literal.Kind == QValueKind.Uri
        || (literal.Kind == QValueKind.String && literal.DateTime is null && literal.Date is null && literal.Time is null);

    private static bool Ordered(JsonNode target, TargetKind kind, QOperator op, QLiteral literal)
    {
        if (target is JsonArray array)
        {
            for (var i = 0; i < array.Count; i++)
            {
                if (array[i] is JsonValue v && Satisfies(CompareScalar(v, literal), op))
                {
                    return true;
                }
            }

            return false;
        }

        if (kind == TargetKind.LanguageMap && target is JsonObject map)
        {
            for (var i = 0; i < map.Count; i++)
            {
                var text = map.GetAt(i).Value;
                if (text is not null && Ordered(text, TargetKind.Plain, op, literal))
                {
                    return true;
                }
            }

            return false;
        }

        return target is JsonValue scalar && Satisfies(CompareScalar(scalar, literal), op);
    }

    private static bool Satisfies(int? order, QOperator op) => order is { } o && op switch
    {
        QOperator.Greater => o > 0,
        QOperator.GreaterOrEqual => o >= 0,
        QOperator.Less => o < 0,
        QOperator.LessOrEqual => o <= 0,
        QOperator.Equal => o == 0,
        _ => false,
    };

    /// <summary>Target compared with the literal (sign of target - literal), or null when the types differ.</summary>
    private static int? CompareScalar(JsonValue scalar, QLiteral literal)
    {
        var valueKind = scalar.GetValueKind();
        switch (literal.Kind)
        {
            case QValueKind.Number:
                return valueKind == JsonValueKind.Number && TryGetDouble(scalar, out var number)
                    ? number.CompareTo(literal.Number)
                    : null;
            case QValueKind.Boolean:
                return valueKind is JsonValueKind.True or JsonValueKind.False
                    ? (valueKind == JsonValueKind.True) == literal.Boolean ? 0 : 1
                    : null;
        }

        if (valueKind != JsonValueKind.String || !scalar.TryGetValue<string>(out var text))
        {
            return null;
        }

        // Temporal when both sides parse as the same temporal type (for quoted strings too).
        if (literal.DateTime is { } dateTime && TemporalText.TryParseDateTime(text, out var targetDateTime))
        {
            return targetDateTime.CompareTo(dateTime);
        }

        if (literal.Date is { } date && TemporalText.TryParseDate(text, out var targetDate))
        {
            return targetDate.CompareTo(date);
        }

        if (literal.Time is { } time && TemporalText.TryParseTime(text, out var targetTime))
        {
            return targetTime.CompareTo(time);
        }

        return literal.Kind is QValueKind.String or QValueKind.Uri
            ? Math.Sign(string.CompareOrdinal(text, literal.Text))
            : null;
    }

    private static RegexOutcome RegexOver(JsonNode target, TargetKind kind, Regex regex, RegexOutcome outcome)
    {
        if (target is JsonArray array)
        {
            for (var i = 0; i < array.Count; i++)
            {
                if (array[i] is { } item)
                {
                    outcome = RegexOver(item, TargetKind.Plain, regex, outcome);
                }
            }

            return outcome;
        }

        if (kind == TargetKind.LanguageMap && target is JsonObject map)
        {
            for (var i = 0; i < map.Count; i++)
            {
                var text = map.GetAt(i).Value;
                if (text is not null)
                {
                    outcome = RegexOver(text, TargetKind.Plain, regex, outcome);
                }
            }

            return outcome;
        }

        if (outcome is RegexOutcome.Match or RegexOutcome.TimedOut
            || target is not JsonValue scalar || scalar.GetValueKind() != JsonValueKind.String
            || !scalar.TryGetValue<string>(out var s))
        {
            return outcome;
        }

        try
        {
            return regex.IsMatch(s) ? RegexOutcome.Match : RegexOutcome.NoMatch;
        }
        catch (RegexMatchTimeoutException)
        {
            return RegexOutcome.TimedOut;
        }
    }

    private static bool StringEquals(JsonValue scalar, string expected)
    {
        if (scalar.TryGetValue<JsonElement>(out var element))
        {
            return element.ValueKind == JsonValueKind.String && element.ValueEquals(expected);
        }

        return scalar.TryGetValue<string>(out var text) && string.Equals(text, expected, StringComparison.Ordinal);
    }

    // Values built in code (JsonValue.Create(55)) keep their CLR type; parsed ones are JsonElements.
    private static bool TryGetDouble(JsonValue scalar, out double number)
    {
        if (scalar.TryGetValue(out JsonElement element))
        {
            return element.TryGetDouble(out number);
        }

        if (scalar.TryGetValue(out number))
        {
            return true;
        }

        if (scalar.TryGetValue(out int i))
        {
            number = i;
            return true;
        }

        if (scalar.TryGetValue(out long l))
        {
            number = l;
            return true;
        }

        if (scalar.TryGetValue(out decimal m))
        {
            number = (double)m;
            return true;
        }

        if (scalar.TryGetValue(out float f))
        {
            number = f;
            return true;
        }

        if (scalar.TryGetValue(out uint ui))
        {
            number = ui;
            return true;
        }

        if (scalar.TryGetValue(out ulong ul))
        {
            number = ul;
            return true;
        }

        if (scalar.TryGetValue(out short sh))
        {
            number = sh;
            return true;
        }

        if (scalar.TryGetValue(out byte b))
        {
            number = b;
            return true;
        }

        number = 0;
        return false;
    }
}
