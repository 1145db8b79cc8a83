using System.Text.Json.Nodes;
using CityOS.NgsiLd.Errors;
using CityOS.NgsiLd.Model;

namespace CityOS.Broker.Storage;

/// <summary>One geo-property instance's bounding box, as a store's spatial index holds it.</summary>
public readonly record struct IndexedBox(string Property, double MinX, double MinY, double MaxX, double MaxY);

/// <summary>
/// What every store indexes of one entity, extracted in one pass over the internal form: its types, its
/// distinct (attribute, attribute type) pairs for attrs= and discovery, and one box per geometry-valued
/// instance. Shared so that every backend indexes exactly the same keys.
/// </summary>
public sealed class EntityKeys
{
    /// <summary>Most boxes one entity may have (SQLite keeps the instance number in 16 bits of its R-tree id).</summary>
    public const int MaxGeoEntries = 1 << 16;

    private EntityKeys(string id, JsonArray typeArray, List<string> types, List<string> attributeNames, List<(string, string)> attributes, List<IndexedBox> geo)
    {
        Id = id;
        TypeArray = typeArray;
        Types = types;
        AttributeNames = attributeNames;
        Attributes = attributes;
        Geo = geo;
    }

    public string Id { get; }

    /// <summary>The entity's own type array (for stores that keep it as JSON text).</summary>
    public JsonArray TypeArray { get; }

    /// <summary>Distinct type IRIs in entity order.</summary>
    public List<string> Types { get; }

    /// <summary>Distinct attribute keys in entity order.</summary>
    public List<string> AttributeNames { get; }

    /// <summary>Distinct (attribute IRI, attribute type) pairs in entity order; attribute type "" when an instance has none.</summary>
    public List<(string Attribute, string AttributeType)> Attributes { get; }

    /// <summary>One box per instance whose value is a GeoJSON geometry.</summary>
    public List<IndexedBox> Geo { get; }

    /// <summary>The keys of <paramref name="entity"/>; ArgumentException when it lacks a string id or a type array.</summary>
    public static EntityKeys Of(JsonObject entity)
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
        var attributes = new List<(string, string)>();
        var geo = new List<IndexedBox>();
        foreach (var (key, value) in entity)
        {
            if (!Names.IsAttributeKey(key))
            {
                continue;
            }

            names.Add(key);
            if (value is not JsonArray instances)
            {
                attributes.Add((key, string.Empty));
                continue;
            }

            var first = attributes.Count;
            foreach (var instance in instances)
            {
                var attributeType = instance is JsonObject io && io[Names.Type] is JsonValue atv && atv.TryGetValue(out string? at) ? at : string.Empty;
                if (!ContainsType(attributes, first, attributeType))
                {
                    attributes.Add((key, attributeType));
                }

                // Any instance whose value is a GeoJSON geometry is boxed (not only GeoProperty), so the
                // index is a superset of whatever the geo evaluator may accept.
                if (instance is JsonObject obj && obj[Names.Value] is JsonObject geometry && GeoEnvelope.IsGeometry(geometry)
                    && GeoEnvelope.TryCompute(geometry, out var box))
                {
                    geo.Add(new IndexedBox(key, box.MinX, box.MinY, box.MaxX, box.MaxY));
                }
            }
        }

        if (geo.Count > MaxGeoEntries)
        {
            throw NgsiLdException.BadRequest($"Entity '{id}' has more than {MaxGeoEntries} geo-property instances.");
        }

        return new EntityKeys(id, typeArray, types, names, attributes, geo);
    }

    // Instances of one attribute nearly always share a type: a linear check beats a set here.
    private static bool ContainsType(List<(string, string)> attributes, int first, string attributeType)
    {
        for (var i = first; i < attributes.Count; i++)
        {
            if (string.Equals(attributes[i].Item2, attributeType, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }
}
