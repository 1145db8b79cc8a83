using System.Globalization;
using System.Text.Json.Nodes;

namespace CityOS.NgsiLd.Model;

/// <summary>NGSI-LD DateTime handling: the broker's own timestamp format and validation of client DateTimes.</summary>
public static class Timestamps
{
    private const string Format6 = "yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'";

    /// <summary>Formats an instant as UTC <c>yyyy-MM-ddTHH:mm:ss.ffffffZ</c>, the form every system timestamp takes.</summary>
    public static string Format(DateTimeOffset instant) =>
        instant.UtcDateTime.ToString(Format6, CultureInfo.InvariantCulture);

    /// <summary>
    /// Sets <c>createdAt</c> and <c>modifiedAt</c> to <paramref name="now"/> on a freshly parsed entity, every
    /// attribute instance and every sub-attribute instance. Returns the same object.
    /// </summary>
    public static JsonObject Stamp(JsonObject entity, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(entity);
        var text = Format(now);
        entity[Names.CreatedAt] = text;
        entity[Names.ModifiedAt] = text;
        StampAttributes(entity, text, null);
        return entity;
    }

    /// <summary>
    /// Stamps every attribute instance below <paramref name="holder"/> (an entity or an instance) as modified at
    /// <paramref name="text"/>; createdAt comes from the matching instance under <paramref name="previous"/> when
    /// there is one (same attribute, same datasetId), else it is <paramref name="text"/> too.
    /// </summary>
    internal static void StampAttributes(JsonObject holder, string text, JsonObject? previous)
    {
        foreach (var (key, node) in holder)
        {
            if (!Names.IsAttributeKey(key) || node is not JsonArray instances)
            {
                continue;
            }

            var previousInstances = previous?[key] as JsonArray;
            foreach (var item in instances)
            {
                if (item is JsonObject instance)
                {
                    var old = previousInstances is null ? null : Instances.Find(previousInstances, Instances.DatasetId(instance));
                    StampInstance(instance, text, old);
                }
            }
        }
    }

    /// <summary>Stamps one instance (and its sub-attributes) as written at <paramref name="text"/>.</summary>
    internal static void StampInstance(JsonObject instance, string text, JsonObject? previous)
    {
        var created = previous?[Names.CreatedAt] is JsonValue c && c.TryGetValue(out string? s) ? s : text;
        instance[Names.CreatedAt] = created;
        instance[Names.ModifiedAt] = text;
        StampAttributes(instance, text, previous);
    }

    /// <summary>
    /// Validates an NGSI-LD DateTime (<c>YYYY-MM-DDThh:mm:ss[.ffffff]Z</c>, UTC, at most 6 fraction digits, a
    /// comma accepted as decimal separator) and returns it with a '.' separator, else null.
    /// </summary>
    public static string? NormalizeDateTime(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        // Fixed layout first: it rejects offsets, missing seconds and long fractions that DateTime parsing would accept.
        if (text.Length < 20 || text.Length > 27 || text[^1] != 'Z')
        {
            return null;
        }

        ReadOnlySpan<char> layout = "dddd-dd-ddTdd:dd:dd";
        for (var i = 0; i < layout.Length; i++)
        {
            var ok = layout[i] == 'd' ? char.IsAsciiDigit(text[i]) : text[i] == layout[i];
            if (!ok)
            {
                return null;
            }
        }

        var fraction = text.AsSpan(19, text.Length - 20);
        if (fraction.Length > 0)
        {
            if (fraction.Length < 2 || (fraction[0] != '.' && fraction[0] != ','))
            {
                return null;
            }

            foreach (var ch in fraction[1..])
            {
                if (!char.IsAsciiDigit(ch))
                {
                    return null;
                }
            }
        }

        if (!DateTime.TryParseExact(text.AsSpan(0, 19), "yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.None, out _))
        {
            return null;
        }

        return fraction.Length > 0 && fraction[0] == ',' ? string.Concat(text.AsSpan(0, 19), ".", text.AsSpan(20)) : text;
    }
}
