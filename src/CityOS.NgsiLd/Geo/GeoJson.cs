using System.Text.Json.Nodes;

namespace CityOS.NgsiLd.Geo;

/// <summary>GeoJSON geometry validation and conversion (RFC 7946 as NGSI-LD restricts it, §4.7).</summary>
public static class GeoJson
{
    /// <summary>
    /// Validates a GeoJSON geometry (Point, MultiPoint, LineString, MultiLineString, Polygon, MultiPolygon;
    /// lon,lat[,alt] in range) and returns it as an NTS geometry. BadRequestData on anything else.
    /// STUB: replaced by the geo work (issue #2).
    /// </summary>
    public static NetTopologySuite.Geometries.Geometry ToGeometry(JsonNode? geometry) =>
        throw new NotSupportedException("GeoJSON not implemented yet");
}
