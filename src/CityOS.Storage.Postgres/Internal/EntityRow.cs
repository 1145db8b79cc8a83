using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using CityOS.NgsiLd.Errors;
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
    public const int MaxGeoEntries = 1 << 16;

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
        ArgumentNullException.ThrowIfNull(entity);
        if (entity[Names.Id] is not JsonValue idValue || !idValue.TryGetValue(out string? id) || string.IsNullOrEmpty(id))
        {
            throw new ArgumentException("The entity has no string id.", nameof(entity));
        }

        if (entity[Names.Type] is not JsonArray typeArray)
        {
            throw new ArgumentException($"Entity '{id}' has no type array (internal form).", nameof(entity));
        }

        var types = new List<string>(typeArray.Count);
        foreach (var t in typeArray)
        {
            if (t is not JsonValue tv || !tv.TryGetValue(out string? typeName))
            {
                throw new ArgumentException($"Entity '{id}' has a type that is not a string.", nameof(entity));
            }

            if (!types.Contains(typeName, StringComparer.Ordinal))
            {
                types.Add(typeName);
            }
        }

        var names = new List<string>();
        var pairs = new List<(string Attribute, string AttributeType)>();
        var geo = new GeoBoxes();
        foreach (var (key, value) in entity)
        {
            if (!Names.IsAttributeKey(key))
            {
                continue;
            }

            names.Add(key);
            if (value is not JsonArray instances)
            {
                pairs.Add((key, string.Empty));
                continue;
            }

            var first = pairs.Count;
            foreach (var instance in instances)
            {
                var attributeType = instance is JsonObject io && io[Names.Type] is JsonValue atv && atv.TryGetValue(out string? at) ? at : string.Empty;
                if (!pairs.Skip(first).Any(p => string.Equals(p.AttributeType, attributeType, StringComparison.Ordinal)))
                {
                    pairs.Add((key, attributeType));
                }

                // Any instance whose value looks like a GeoJSON geometry is boxed (not only GeoProperty), so
                // the index is a superset of whatever the geo evaluator may accept.
                if (instance is JsonObject obj && obj[Names.Value] is JsonObject geometry && GeoEnvelope.IsGeometry(geometry)
                    && GeoEnvelope.TryCompute(geometry, out var box))
                {
                    geo.Add(key, box);
                }
            }
        }

        if (geo.Count > MaxGeoEntries)
        {
            throw NgsiLdException.BadRequest($"Entity '{id}' has more than {MaxGeoEntries} geo-property instances.");
        }

        var pairsJson = new JsonArray(pairs.Select(p => (JsonNode)new JsonArray(p.Attribute, p.AttributeType)).ToArray()).ToJsonString(DocOptions);
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
