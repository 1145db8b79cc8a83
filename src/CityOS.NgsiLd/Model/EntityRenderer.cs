using System.Text.Json.Nodes;
using CityOS.NgsiLd.JsonLd;

namespace CityOS.NgsiLd.Model;

/// <summary>
/// Renders internal-form entities as NGSI-LD output (normalized, concise, keyValues; GeoJSON features),
/// compacted with the request's context. STUB: replaced by the entity-model work (issue #2).
/// </summary>
public static class EntityRenderer
{
    /// <summary>Renders one entity (no @context member: the API layer adds it for ld+json).</summary>
    public static JsonObject Render(JsonObject entity, LdContext context, RenderOptions options) =>
        throw new NotSupportedException("rendering not implemented yet");

    /// <summary>Renders one entity as a GeoJSON Feature (§4.5.16) using <paramref name="geometryProperty"/> (expanded IRI).</summary>
    public static JsonObject RenderFeature(JsonObject entity, LdContext context, RenderOptions options, string geometryProperty) =>
        throw new NotSupportedException("GeoJSON rendering not implemented yet");
}
