using System.Text.Json.Nodes;

namespace CityOS.NgsiLd.Model;

/// <summary>Small helpers over attribute instances of the internal form.</summary>
public static class Instances
{
    /// <summary>The datasetId of an instance, or null for the default instance.</summary>
    public static string? DatasetId(JsonObject instance)
    {
        ArgumentNullException.ThrowIfNull(instance);
        return instance[Names.DatasetId] is JsonValue v && v.TryGetValue(out string? s) ? s : null;
    }

    /// <summary>The attribute type of an instance ("Property", …), or null when absent.</summary>
    public static string? TypeOf(JsonObject instance)
    {
        ArgumentNullException.ThrowIfNull(instance);
        return instance[Names.Type] is JsonValue v && v.TryGetValue(out string? s) ? s : null;
    }

    /// <summary>The instance of <paramref name="instances"/> with the given datasetId (null = default), or null.</summary>
    public static JsonObject? Find(JsonArray instances, string? datasetId)
    {
        ArgumentNullException.ThrowIfNull(instances);
        foreach (var item in instances)
        {
            if (item is JsonObject o && string.Equals(DatasetId(o), datasetId, StringComparison.Ordinal))
            {
                return o;
            }
        }

        return null;
    }

    /// <summary>Index of the instance with the given datasetId, or -1.</summary>
    public static int IndexOf(JsonArray instances, string? datasetId)
    {
        ArgumentNullException.ThrowIfNull(instances);
        for (var i = 0; i < instances.Count; i++)
        {
            if (instances[i] is JsonObject o && string.Equals(DatasetId(o), datasetId, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>
    /// True when an instance of an update fragment carries the NGSI-LD Null in its content member, i.e. asks
    /// for the deletion of that instance (§4.5.1): <c>"urn:ngsi-ld:null"</c>, <c>{"@none":"urn:ngsi-ld:null"}</c>
    /// for a languageMap, or <c>["urn:ngsi-ld:null"]</c> for lists.
    /// </summary>
    public static bool IsNgsiLdNull(JsonObject instance)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var type = TypeOf(instance);
        var member = type is null ? Names.Value : Names.ContentMember(type);
        return member is not null && IsNullContent(instance[member]);
    }

    /// <summary>True when a content-member value is one of the NGSI-LD Null forms.</summary>
    public static bool IsNullContent(JsonNode? content) => content switch
    {
        JsonValue v => IsNullString(v),
        JsonArray { Count: 1 } a => a[0] is JsonValue v && IsNullString(v),
        JsonObject { Count: 1 } o => o["@none"] is JsonValue v && IsNullString(v),
        _ => false,
    };

    /// <summary>True for a JSON string equal to the NGSI-LD Null.</summary>
    public static bool IsNullString(JsonNode? node) =>
        node is JsonValue v && v.TryGetValue(out string? s) && s == Names.NgsiLdNull;
}
