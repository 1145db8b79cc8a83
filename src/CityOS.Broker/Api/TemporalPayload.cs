using System.Text.Json.Nodes;
using CityOS.NgsiLd.Errors;
using CityOS.NgsiLd.JsonLd;
using CityOS.NgsiLd.Model;

namespace CityOS.Broker.Api;

/// <summary>
/// Reads temporal entity bodies (§5.6.11, §5.6.12): each attribute is an instance or an array of instances (several
/// may share a datasetId: they are points in time), or the temporalValues form <c>{"type": "Property", "values":
/// [[value, observedAt], …]}</c>. Every instance is checked by the entity parser.
/// </summary>
internal static class TemporalPayload
{
    private static readonly HashSet<string> Ignored = new(StringComparer.Ordinal)
    {
        "@context", Names.Id, Names.Type, Names.Scope, Names.CreatedAt, Names.ModifiedAt, Names.DeletedAt,
    };

    /// <summary>The entity's core members (expanded) and its instances per expanded attribute.</summary>
    public static (JsonObject Entity, Dictionary<string, List<JsonObject>> Instances) Parse(JsonObject body, LdContext context, bool requireType)
    {
        if (body[Names.Id] is not JsonValue idValue || !idValue.TryGetValue(out string? id))
        {
            throw NgsiLdException.BadRequest("A temporal entity needs an id.");
        }

        EntityParser.ValidateEntityId(id);
        JsonObject entity;
        if (body[Names.Type] is { } type)
        {
            var core = new JsonObject { [Names.Id] = id, [Names.Type] = type.DeepClone() };
            if (body[Names.Scope] is { } scope)
            {
                core[Names.Scope] = scope.DeepClone();
            }

            entity = EntityParser.Parse(core, context, PayloadKind.Entity);
        }
        else if (requireType)
        {
            throw NgsiLdException.BadRequest("A temporal entity needs a type.");
        }
        else
        {
            entity = new JsonObject { [Names.Id] = id };
        }

        var instances = new Dictionary<string, List<JsonObject>>(StringComparer.Ordinal);
        foreach (var (key, node) in body)
        {
            if (Ignored.Contains(key))
            {
                continue;
            }

            var attribute = QueryParameters.ExpandName(key, context);
            var list = new List<JsonObject>();
            foreach (var item in Items(key, node))
            {
                list.Add(ParseInstance(attribute, item, context, PayloadKind.Entity));
            }

            if (list.Count > 0)
            {
                instances[attribute] = list;
            }
        }

        return (entity, instances);
    }

    /// <summary>The body of PATCH …/{instanceId}: the members to overwrite (a type only when sent).</summary>
    public static JsonObject ParseFragment(string attribute, JsonObject body, LdContext context)
    {
        var copy = body.DeepClone().AsObject();
        copy.Remove("@context");
        var hadType = copy.ContainsKey(Names.Type);
        var parsed = ParseInstance(attribute, copy, context, PayloadKind.Fragment);
        if (!hadType)
        {
            parsed.Remove(Names.Type);
        }

        return parsed;
    }

    private static JsonObject ParseInstance(string attribute, JsonObject item, LdContext context, PayloadKind kind)
    {
        var copy = item.DeepClone().AsObject();
        copy.Remove("instanceId");
        var parsed = EntityParser.ParseAttribute(attribute, copy, context, kind);
        return parsed.Count == 1 && parsed[0] is JsonObject instance
            ? instance
            : throw NgsiLdException.BadRequest($"Attribute '{context.CompactIri(attribute)}': an instance must be one object.");
    }

    // The instance objects of one attribute member, from any of the accepted forms.
    private static IEnumerable<JsonObject> Items(string name, JsonNode? node)
    {
        switch (node)
        {
            case JsonArray array:
                foreach (var item in array)
                {
                    yield return item as JsonObject ?? throw NgsiLdException.BadRequest($"Attribute '{name}': every instance must be an object.");
                }

                break;
            case JsonObject single when TemporalValuesOf(single) is { } values:
                foreach (var item in values)
                {
                    yield return item;
                }

                break;
            case JsonObject single:
                yield return single;
                break;
            default:
                throw NgsiLdException.BadRequest($"Attribute '{name}' must be an instance object or an array of them.");
        }
    }

    // {"type": T, "values"|"objects"|…: [[content, observedAt], …]} as instances; null when the object is not that form.
    private static List<JsonObject>? TemporalValuesOf(JsonObject attribute)
    {
        (string Member, string Content)? form = null;
        foreach (var candidate in new[] { ("values", Names.Value), ("objects", Names.Object), ("languageMaps", Names.LanguageMap), ("vocabs", Names.Vocab), ("jsons", Names.Json), ("valueLists", Names.ValueList), ("objectLists", Names.ObjectList) })
        {
            if (attribute.ContainsKey(candidate.Item1))
            {
                form = candidate;
                break;
            }
        }

        if (form is not { } f)
        {
            return null;
        }

        if (attribute[f.Member] is not JsonArray pairs)
        {
            throw NgsiLdException.BadRequest($"'{f.Member}' must be an array of [value, time] pairs.");
        }

        var type = (string?)attribute[Names.Type] ?? (f.Content == Names.Object ? Names.Relationship : Names.Property);
        var instances = new List<JsonObject>(pairs.Count);
        foreach (var pair in pairs)
        {
            if (pair is not JsonArray { Count: 2 } p)
            {
                throw NgsiLdException.BadRequest($"'{f.Member}' must be an array of [value, time] pairs.");
            }

            var content = p[0] is JsonObject o && f.Content == Names.LanguageMap && o[Names.LanguageMap] is { } map ? map : p[0];
            var instance = new JsonObject { [Names.Type] = type, [f.Content] = content?.DeepClone(), [Names.ObservedAt] = p[1]?.DeepClone() };
            foreach (var (key, value) in attribute)
            {
                if (key != f.Member && key != Names.Type)
                {
                    instance[key] = value?.DeepClone();
                }
            }

            instances.Add(instance);
        }

        return instances;
    }
}
