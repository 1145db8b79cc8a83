using System.Text.Json.Nodes;
using CityOS.NgsiLd.Errors;
using NetTopologySuite.Geometries;

namespace CityOS.NgsiLd.Geo;

/// <summary>GeoJSON geometry validation and conversion (RFC 7946 as NGSI-LD restricts it, §4.7).</summary>
public static class GeoJson
{
    /// <summary>
    /// Validates a GeoJSON geometry and returns it as an NTS geometry with SRID 4326.
    /// Accepted: Point, MultiPoint, LineString, MultiLineString, Polygon, MultiPolygon (type names in exact
    /// case); positions are [longitude, latitude] or [longitude, latitude, altitude] JSON numbers with
    /// longitude in [-180, 180] and latitude in [-90, 90]; a LineString has at least 2 positions; every
    /// polygon ring is closed (first and last position identical) and has at least 4 positions; Multi*
    /// geometries are non-empty. Other members (bbox, foreign members) are ignored. Ring orientation and OGC
    /// validity (e.g. self-intersection) are not checked, as RFC 7946 tells parsers not to reject on them.
    /// </summary>
    /// <exception cref="NgsiLdException">BadRequestData, for any input that is not such a geometry.</exception>
    public static Geometry ToGeometry(JsonNode? geometry) =>
        GeoJsonReader.Read(geometry, out var error) ?? throw NgsiLdException.BadRequest(error ?? "invalid GeoJSON geometry");

    /// <summary>
    /// The lon/lat bounding box of a GeoJSON geometry, for spatial indexing by the stores.
    /// Validates exactly like <see cref="ToGeometry"/>.
    /// </summary>
    /// <exception cref="NgsiLdException">BadRequestData, for any input that is not a valid geometry.</exception>
    public static (double MinX, double MinY, double MaxX, double MaxY) Envelope(JsonNode geometry)
    {
        var envelope = ToGeometry(geometry).EnvelopeInternal;
        return (envelope.MinX, envelope.MinY, envelope.MaxX, envelope.MaxY);
    }
}
