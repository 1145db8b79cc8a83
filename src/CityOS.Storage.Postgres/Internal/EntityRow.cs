using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using CityOS.Broker.Storage;

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

    private static readonly JsonSerializerOptions DocOptions = new()
    {
        // Non-ASCII text stays readable and compact; the doc is never put in HTML.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private EntityRow(string id, string[] types, string[] attributeNames, string attributePairs, GeoBoxes geo, string doc)
    {
        Id = id;
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

        // Written straight to text: building a JsonArray of JsonArrays first cost a dozen allocations per
        // attribute on the batch path, where this runs once per entity.
        var buffer = new ArrayBufferWriter<byte>(256);
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

        var pairsJson = Encoding.UTF8.GetString(buffer.WrittenSpan);
        return new EntityRow(id, [.. types], [.. names], pairsJson, geo, entity.ToJsonString(DocOptions));
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
