using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using CityOS.Broker.Storage;
using CityOS.NgsiLd.Model;

namespace CityOS.Storage.Postgres.Internal;

/// <summary>
/// The columns of one entities row, extracted in one pass over the internal form: the doc as JSON text,
/// the type array, the attribute names (for attrs= and discovery), the (attribute, attribute type) pairs
/// (for /types and /attributes) and one bounding box per geo-property instance (for entity_geo).
/// </summary>
internal sealed class EntityRow
{
    /// <summary>Most geo boxes one entity may have (the same bound as the SQLite store).</summary>
    public const int MaxGeoEntries = EntityKeys.MaxGeoEntries;

    // The members whose content q compares (the languageMap is walked separately: its values are the targets).
    private static readonly string[] ContentMembers = [Names.Value, Names.Json, Names.ValueList, Names.Object, Names.ObjectList, Names.Vocab];

    private static readonly JsonSerializerOptions DocOptions = new()
    {
        // Non-ASCII text stays readable and compact; the doc is never put in HTML.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private EntityRow(string id, string[] types, string[] attributeNames, string attributePairs, GeoBoxes geo, string doc, string values)
    {
        Id = id;
        Values = values;
        Types = types;
        AttributeNames = attributeNames;
        AttributePairs = attributePairs;
        Geo = geo;
        Doc = doc;
    }

    public string Id { get; }

    public string[] Types { get; }

    /// <summary>Distinct attribute keys, in entity order.</summary>
    public string[] AttributeNames { get; }

    /// <summary>A JSON array of distinct [attribute, attribute type] pairs; attribute type "" when an instance has none.</summary>
    public string AttributePairs { get; }

    public GeoBoxes Geo { get; }

    /// <summary>
    /// The vals column: per attribute key, the scalars a q term on the bare attribute may compare with
    /// (see <see cref="WriteValues"/>), e.g. <c>{"…/temperature": [25.5]}</c>.
    /// </summary>
    public string Values { get; }

    /// <summary>The entity as JSON text, stored as given (a <c>json</c> column keeps key order and number spelling).</summary>
    public string Doc { get; }

    /// <summary>The row of <paramref name="entity"/>; ArgumentException when it lacks a string id or a type array.</summary>
    public static EntityRow Of(JsonObject entity)
    {
        var keys = EntityKeys.Of(entity);
        var (id, types, names, pairs) = (keys.Id, keys.Types, keys.AttributeNames, keys.Attributes);
        var geo = new GeoBoxes();
        foreach (var box in keys.Geo)
        {
            geo.Add(box.Property, (box.MinX, box.MinY, box.MaxX, box.MaxY));
        }

        return new EntityRow(id, [.. types], [.. names], PairsOf(pairs), geo, entity.ToJsonString(DocOptions), ValuesOf(entity));
    }

    /// <summary>
    /// The attrs JSON: written straight to text, since building a JsonArray of JsonArrays first cost a dozen
    /// allocations per attribute on the batch path, where this runs once per entity.
    /// </summary>
    private static string PairsOf(List<(string Attribute, string AttributeType)> pairs)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = DocOptions.Encoder }))
        {
            writer.WriteStartArray();
            foreach (var (attribute, attributeType) in pairs)
            {
                writer.WriteStartArray();
                writer.WriteStringValue(attribute);
                writer.WriteStringValue(attributeType);
                writer.WriteEndArray();
            }

            writer.WriteEndArray();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>The vals JSON of <paramref name="entity"/> (see <see cref="WriteValues"/>).</summary>
    public static string ValuesOf(JsonObject entity)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = DocOptions.Encoder }))
        {
            WriteValues(writer, entity);
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>
    /// Writes <c>{"attribute": [scalar, …]}</c> for every attribute key: the string, number and boolean
    /// scalars of each instance's content members (value, json, valueList, a typed literal's @value, the
    /// languageMap's values, object, objectList items, vocab), one array level flattened. Every target the
    /// q evaluator can compare on a bare attribute is among them, so a prefilter asking "does some scalar
    /// satisfy the term" is a superset of the evaluator. Numbers keep their spelling (jsonb reads them as
    /// exact numerics). Migration 2 back-fills stored rows with this same method.
    /// </summary>
    private static void WriteValues(Utf8JsonWriter writer, JsonObject entity)
    {
        writer.WriteStartObject();
        foreach (var (key, attribute) in entity)
        {
            if (!Names.IsAttributeKey(key))
            {
                continue;
            }

            writer.WriteStartArray(key);
            if (attribute is JsonArray instances)
            {
                foreach (var instance in instances)
                {
                    WriteInstanceValues(writer, instance);
                }
            }
            else
            {
                WriteInstanceValues(writer, attribute);
            }

            writer.WriteEndArray();
        }

        writer.WriteEndObject();
    }

    private static void WriteInstanceValues(Utf8JsonWriter writer, JsonNode? instance)
    {
        if (instance is not JsonObject o)
        {
            return;
        }

        foreach (var member in ContentMembers)
        {
            if (o.TryGetPropertyValue(member, out var target))
            {
                WriteTarget(writer, target);
                if (member is Names.Value or Names.Json && target is JsonObject literal && literal.TryGetPropertyValue("@value", out var inner))
                {
                    WriteTarget(writer, inner);
                }
            }
        }

        if (o.TryGetPropertyValue(Names.LanguageMap, out var map) && map is JsonObject languages)
        {
            foreach (var (_, text) in languages)
            {
                WriteTarget(writer, text);
            }
        }
    }

    // A scalar itself; an array's scalars and its items' "object" (ListRelationship items); nothing else.
    private static void WriteTarget(Utf8JsonWriter writer, JsonNode? target)
    {
        if (target is JsonArray items)
        {
            foreach (var item in items)
            {
                WriteScalar(writer, item is JsonObject listItem && listItem.TryGetPropertyValue(Names.Object, out var uri) ? uri : item);
            }
        }
        else
        {
            WriteScalar(writer, target);
        }
    }

    private static void WriteScalar(Utf8JsonWriter writer, JsonNode? node)
    {
        if (node is not JsonValue value)
        {
            return;
        }

        switch (value.GetValueKind())
        {
            case JsonValueKind.String when value.GetValue<string>() is var text && text.Contains('\0', StringComparison.Ordinal):
                // jsonb cannot hold U+0000. The text up to it orders at or below the whole text against any
                // string without U+0000 (the only ones a prefilter compares with), so range bounds stay a
                // superset; no such string can equal it.
                writer.WriteStringValue(text.AsSpan(0, text.IndexOf('\0', StringComparison.Ordinal)));
                break;
            case JsonValueKind.String or JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False:
                value.WriteTo(writer);
                break;
            default:
                break;
        }
    }

    /// <summary>Parses a stored doc.</summary>
    public static JsonObject ParseDoc(string doc) => JsonNode.Parse(doc)!.AsObject();
}

/// <summary>Geo boxes as parallel arrays, bound as PostgreSQL arrays and unnested in one INSERT.</summary>
internal sealed class GeoBoxes
{
    public List<string> Properties { get; } = [];

    public List<double> MinX { get; } = [];

    public List<double> MinY { get; } = [];

    public List<double> MaxX { get; } = [];

    public List<double> MaxY { get; } = [];

    public int Count => Properties.Count;

    public void Add(string property, (double MinX, double MinY, double MaxX, double MaxY) box)
    {
        Properties.Add(property);
        MinX.Add(box.MinX);
        MinY.Add(box.MinY);
        MaxX.Add(box.MaxX);
        MaxY.Add(box.MaxY);
    }
}
