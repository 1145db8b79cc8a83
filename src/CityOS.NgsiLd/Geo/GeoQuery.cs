using System.Text.Json.Nodes;
using CityOS.NgsiLd.JsonLd;

namespace CityOS.NgsiLd.Geo;

/// <summary>The geo-relations of §4.10.</summary>
public enum GeoRelation
{
    Near,
    Within,
    Contains,
    Intersects,
    Equals,
    Disjoint,
    Overlaps,
}

/// <summary>
/// A parsed geo-query (§4.10): relation, reference geometry and target GeoProperty (expanded IRI).
/// STUB: replaced by the geo work (issue #2).
/// </summary>
public sealed record GeoQuery(GeoRelation Relation, string GeoProperty, double? MaxDistance, double? MinDistance)
{
    /// <summary>
    /// Bounding box (minLon, minLat, maxLon, maxLat) that every matching target must intersect, for an
    /// index prefilter; null when no box can be given (e.g. disjoint, minDistance).
    /// </summary>
    public (double MinX, double MinY, double MaxX, double MaxY)? SearchBox { get; init; }

    /// <summary>True when any instance of the entity's target GeoProperty satisfies the relation.</summary>
    public bool Matches(JsonObject entity) => throw new NotSupportedException("geo-queries not implemented yet");

    /// <summary>Parses the georel/geometry/coordinates/geoproperty parameters; BadRequestData on any error.</summary>
    public static GeoQuery Parse(string georel, string geometry, string coordinates, string? geoproperty, LdContext context) =>
        throw new NotSupportedException("geo-queries not implemented yet");
}
