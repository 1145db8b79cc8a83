using System.Text.Json.Nodes;
using CityOS.NgsiLd.JsonLd;

namespace CityOS.NgsiLd.Model;

/// <summary>
/// Renders internal-form entities as NGSI-LD output (normalized, concise, keyValues; GeoJSON features),
/// compacted with the request's context. The input entity is never modified; values are deep-cloned only
/// where the output must own them.
/// </summary>
public static class EntityRenderer
{
    private const string DatasetMember = "dataset";
    private const string NoneKey = "@none";

    /// <summary>Renders one entity (no @context member: the API layer adds it for ld+json).</summary>
    public static JsonObject Render(JsonObject entity, LdContext context, RenderOptions options)
    {
        ArgumentNullException.ThrowIfNull(entity);
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(options);
        var output = new JsonObject();
        RenderInto(output, entity, context, options, includeId: true);
        return output;
    }

    /// <summary>
    /// Renders one entity as a GeoJSON Feature (§4.5.16): id, "Feature", the geometry of
    /// <paramref name="geometryProperty"/> (expanded IRI; its default instance, else its first) or null, and
    /// the entity's type and attributes as properties in the chosen representation.
    /// </summary>
    public static JsonObject RenderFeature(JsonObject entity, LdContext context, RenderOptions options, string geometryProperty)
    {
        ArgumentNullException.ThrowIfNull(entity);
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(geometryProperty);
        var properties = new JsonObject();
        RenderInto(properties, entity, context, options, includeId: false);
        return new JsonObject
        {
            [Names.Id] = entity[Names.Id]?.DeepClone(),
            [Names.Type] = "Feature",
            ["geometry"] = GeometryOf(entity, geometryProperty)?.DeepClone(),
            ["properties"] = properties,
        };
    }

    /// <summary>Renders entities as a GeoJSON FeatureCollection (§6.3.15) of <see cref="RenderFeature"/> features.</summary>
    public static JsonObject RenderFeatureCollection(IEnumerable<JsonObject> entities, LdContext context, RenderOptions options, string geometryProperty)
    {
        ArgumentNullException.ThrowIfNull(entities);
        var features = new JsonArray();
        foreach (var entity in entities)
        {
            features.Add(RenderFeature(entity, context, options, geometryProperty));
        }

        return new JsonObject { [Names.Type] = "FeatureCollection", ["features"] = features };
    }

    private static JsonNode? GeometryOf(JsonObject entity, string geometryProperty)
    {
        if (entity[geometryProperty] is not JsonArray instances || instances.Count == 0)
        {
            return null;
        }

        var chosen = Instances.Find(instances, null) ?? instances[0] as JsonObject;
        return chosen is not null && Instances.TypeOf(chosen) == Names.GeoProperty ? chosen[Names.Value] : null;
    }

    private static void RenderInto(JsonObject output, JsonObject entity, LdContext context, RenderOptions options, bool includeId)
    {
        foreach (var (key, node) in entity)
        {
            switch (key)
            {
                case Names.Id:
                    if (includeId && Keep(options, key))
                    {
                        output[key] = node?.DeepClone();
                    }

                    break;
                case Names.Type:
                    if (Keep(options, key))
                    {
                        output[key] = CompactTypes(node, context);
                    }

                    break;
                case Names.Scope:
                    if (Keep(options, key) && node is JsonArray scopes)
                    {
                        output[key] = scopes.Count == 1 ? scopes[0]?.DeepClone() : scopes.DeepClone();
                    }

                    break;
                case Names.CreatedAt or Names.ModifiedAt or Names.DeletedAt:
                    if (options.SysAttrs)
                    {
                        output[key] = node?.DeepClone();
                    }

                    break;
                default:
                    if (!Names.IsAttributeKey(key))
                    {
                        output[key] = node?.DeepClone();
                    }
                    else if (node is JsonArray instances && Keep(options, key))
                    {
                        var rendered = RenderAttribute(instances, context, options, options.DatasetIds);
                        if (rendered is not null)
                        {
                            output[context.CompactIri(key)] = rendered;
                        }
                    }

                    break;
            }
        }
    }

    private static bool Keep(RenderOptions options, string name) =>
        (options.Pick is null || options.Pick.Contains(name)) && (options.Omit is null || !options.Omit.Contains(name));

    private static JsonNode? CompactTypes(JsonNode? node, LdContext context)
    {
        if (node is not JsonArray types)
        {
            return EntityParser.TryGetString(node, out var single) ? context.CompactIri(single) : node?.DeepClone();
        }

        if (types.Count == 1 && EntityParser.TryGetString(types[0], out var only))
        {
            return context.CompactIri(only);
        }

        var result = new JsonArray();
        foreach (var item in types)
        {
            result.Add(EntityParser.TryGetString(item, out var type) ? context.CompactIri(type) : item?.DeepClone());
        }

        return result;
    }

    private static bool KeepInstance(JsonObject instance, IReadOnlySet<string>? datasetIds) =>
        datasetIds is null || datasetIds.Contains(Instances.DatasetId(instance) ?? NoneKey);

    // Returns null when the dataset filter leaves no instance (the attribute is then omitted).
    private static JsonNode? RenderAttribute(JsonArray instances, LdContext context, RenderOptions options, IReadOnlySet<string>? datasetIds)
    {
        JsonObject? first = null;
        var count = 0;
        foreach (var item in instances)
        {
            if (item is JsonObject instance && KeepInstance(instance, datasetIds))
            {
                first ??= instance;
                count++;
            }
        }

        if (first is null)
        {
            return null;
        }

        if (options.Representation == Representation.KeyValues)
        {
            if (count == 1)
            {
                return Simplified(first, context, options);
            }

            var dataset = new JsonObject();
            foreach (var item in instances)
            {
                if (item is JsonObject instance && KeepInstance(instance, datasetIds))
                {
                    dataset[Instances.DatasetId(instance) ?? NoneKey] = Simplified(instance, context, options);
                }
            }

            return new JsonObject { [DatasetMember] = dataset };
        }

        if (count == 1)
        {
            return RenderInstance(first, context, options, allowBare: true);
        }

        var array = new JsonArray();
        foreach (var item in instances)
        {
            if (item is JsonObject instance && KeepInstance(instance, datasetIds))
            {
                // Inside an array every instance stays an object: a bare value there would read back as invalid.
                array.Add(RenderInstance(instance, context, options, allowBare: false));
            }
        }

        return array;
    }

    private static JsonNode RenderInstance(JsonObject instance, LdContext context, RenderOptions options, bool allowBare)
    {
        var type = Instances.TypeOf(instance);
        var concise = options.Representation == Representation.Concise;
        var byLanguage = type == Names.LanguageProperty && options.LanguageRanges is not null;
        var output = new JsonObject();
        foreach (var (key, node) in instance)
        {
            switch (key)
            {
                case Names.Type:
                    if (byLanguage)
                    {
                        if (!concise)
                        {
                            output[key] = Names.Property;
                        }
                    }
                    else if (!concise || (type == Names.Property && EntityParser.IsGeometry(instance[Names.Value])))
                    {
                        // Concise drops the type, except where the reader would infer a GeoProperty.
                        output[key] = node?.DeepClone();
                    }

                    break;
                case Names.LanguageMap when byLanguage && node is JsonObject map:
                    var tag = options.LanguageRanges!.Select(map);
                    output[Names.Value] = tag is null ? string.Empty : map[tag]?.DeepClone();
                    output[Names.Lang] = tag ?? NoneKey;
                    break;
                case Names.Vocab or Names.ValueType or Names.ObjectType:
                    output[key] = CompactVocab(node, context);
                    break;
                case Names.CreatedAt or Names.ModifiedAt or Names.DeletedAt:
                    if (options.SysAttrs)
                    {
                        output[key] = node?.DeepClone();
                    }

                    break;
                default:
                    if (!Names.IsAttributeKey(key))
                    {
                        output[key] = node?.DeepClone();
                    }
                    else if (node is JsonArray subInstances)
                    {
                        var rendered = RenderAttribute(subInstances, context, options, null);
                        if (rendered is not null)
                        {
                            output[context.CompactIri(key)] = rendered;
                        }
                    }

                    break;
            }
        }

        if (concise && allowBare && output.Count == 1 && output[Names.Value] is { } bare
            && (type == Names.GeoProperty || (type == Names.Property && IsBareable(bare))))
        {
            // The bare form: a Property value or a geometry that reads back to the same attribute.
            output.Remove(Names.Value);
            return bare;
        }

        return output;
    }

    // A bare value must not be mistaken for something else when read back (an object or a list of instances).
    private static bool IsBareable(JsonNode value)
    {
        if (value is JsonObject)
        {
            return false;
        }

        if (value is JsonArray array)
        {
            foreach (var item in array)
            {
                if (item is JsonObject)
                {
                    return false;
                }
            }
        }

        return true;
    }

    private static JsonNode? Simplified(JsonObject instance, LdContext context, RenderOptions options)
    {
        switch (Instances.TypeOf(instance))
        {
            case Names.Relationship:
                return instance[Names.Object]?.DeepClone();
            case Names.LanguageProperty:
                var map = instance[Names.LanguageMap] as JsonObject;
                if (options.LanguageRanges is not null && map is not null)
                {
                    var tag = options.LanguageRanges.Select(map);
                    return tag is null ? string.Empty : map[tag]?.DeepClone();
                }

                return new JsonObject { [Names.LanguageMap] = map?.DeepClone() };
            case Names.VocabProperty:
                return new JsonObject { [Names.Vocab] = CompactVocab(instance[Names.Vocab], context) };
            case Names.JsonProperty:
                return new JsonObject { [Names.Json] = instance[Names.Json]?.DeepClone() };
            case Names.ListProperty:
                return instance[Names.ValueList]?.DeepClone();
            case Names.ListRelationship:
                var uris = new JsonArray();
                if (instance[Names.ObjectList] is JsonArray list)
                {
                    foreach (var item in list)
                    {
                        uris.Add((item is JsonObject o ? o[Names.Object] : item)?.DeepClone());
                    }
                }

                return uris;
            default:
                return instance[Names.Value]?.DeepClone();
        }
    }

    private static JsonNode? CompactVocab(JsonNode? node, LdContext context)
    {
        if (EntityParser.TryGetString(node, out var single))
        {
            return context.CompactVocabValue(single);
        }

        if (node is not JsonArray array)
        {
            return node?.DeepClone();
        }

        var result = new JsonArray();
        foreach (var item in array)
        {
            result.Add(EntityParser.TryGetString(item, out var term) ? context.CompactVocabValue(term) : item?.DeepClone());
        }

        return result;
    }
}
