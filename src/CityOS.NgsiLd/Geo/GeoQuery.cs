using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using CityOS.NgsiLd.Errors;
using CityOS.NgsiLd.JsonLd;
using NetTopologySuite.Geometries;
using NetTopologySuite.Geometries.Prepared;

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
/// Relations read target-versus-reference: <c>within</c> matches entities whose geometry lies within the
/// query geometry, <c>contains</c> those whose geometry contains it; <c>intersects</c>, <c>equals</c>
/// (topological equality), <c>disjoint</c> and <c>overlaps</c> are the OGC Simple Features predicates as
/// NetTopologySuite evaluates them, in the lon/lat plane. <c>near</c> measures metres on the sphere (see
/// <see cref="GeoDistance"/>). Geometries crossing the antimeridian are not supported.
/// Instances are immutable and safe to evaluate from several threads at once.
/// </summary>
public sealed record GeoQuery
{
    /// <summary>The GeoProperty a query targets when the request names none.</summary>
    public const string DefaultGeoProperty = "location";

    // The prepared form indexes the reference once for the thousands of targets one query evaluates;
    // NTS documents prepared geometries as thread-safe. Null when the reference is not OGC-valid, as
    // PreparedPolygon does not support such input; plain predicates (RelateNG) then handle it robustly.
    private readonly IPreparedGeometry? _prepared;

    // Computed once: NTS caches envelopes lazily, which is not something to race on from several threads.
    private readonly Envelope _referenceEnvelope;
    private readonly Envelope? _searchEnvelope;

    private GeoQuery(GeoRelation relation, string geoProperty, double? maxDistance, double? minDistance, Geometry reference)
    {
        Relation = relation;
        GeoProperty = geoProperty;
        MaxDistance = maxDistance;
        MinDistance = minDistance;
        Reference = reference;
        if (relation != GeoRelation.Near && reference.IsValid)
        {
            _prepared = PreparedGeometryFactory.Prepare(reference);
        }

        _referenceEnvelope = reference.EnvelopeInternal;
        SearchBox = ComputeSearchBox();
        if (SearchBox is { } box)
        {
            _searchEnvelope = new Envelope(box.MinX, box.MaxX, box.MinY, box.MaxY);
        }
    }

    /// <summary>The relation the target geometry must have with the reference geometry.</summary>
    public GeoRelation Relation { get; }

    /// <summary>The expanded IRI of the GeoProperty the query evaluates.</summary>
    public string GeoProperty { get; }

    /// <summary><c>near;maxDistance==N</c>: the target is at most N metres away.</summary>
    public double? MaxDistance { get; }

    /// <summary><c>near;minDistance==N</c>: the target is at least N metres away.</summary>
    public double? MinDistance { get; }

    /// <summary>The reference geometry (lon/lat, SRID 4326). Shared by every evaluation: do not mutate it.</summary>
    public Geometry Reference { get; }

    /// <summary>
    /// Bounding box (minLon, minLat, maxLon, maxLat) that every matching target must intersect, for an
    /// index prefilter; null when no box can be given (disjoint, minDistance only).
    /// </summary>
    public (double MinX, double MinY, double MaxX, double MaxY)? SearchBox { get; }

    /// <summary>
    /// True when any instance of the entity's target GeoProperty (internal form: an array of attribute
    /// instances with <c>"type": "GeoProperty"</c> and a GeoJSON <c>value</c>) satisfies the relation.
    /// Entities without the attribute never match; instances that are not GeoProperties or hold an invalid
    /// geometry are skipped rather than failing the whole query.
    /// </summary>
    public bool Matches(JsonObject entity)
    {
        ArgumentNullException.ThrowIfNull(entity);
        try
        {
            return MatchesAttribute(entity);
        }
        catch (ArgumentException)
        {
            // JsonObject builds its member lookup lazily and throws then if the parsed text held a member
            // twice; such an entity or instance cannot be read, so it does not match.
            return false;
        }
    }

    /// <summary>
    /// Parses the <c>georel</c>, <c>geometry</c>, <c>coordinates</c> and <c>geoproperty</c> query parameters.
    /// <paramref name="coordinates"/> is the JSON text of the GeoJSON coordinates (<c>[8,40]</c>); a value
    /// still percent-encoded is accepted too. The geometry type name is matched case-insensitively;
    /// <paramref name="geoproperty"/> defaults to <c>location</c> and is expanded with <paramref name="context"/>.
    /// </summary>
    /// <exception cref="NgsiLdException">BadRequestData, for any malformed or missing parameter.</exception>
    public static GeoQuery Parse(string georel, string geometry, string coordinates, string? geoproperty, LdContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (string.IsNullOrWhiteSpace(coordinates))
        {
            throw NgsiLdException.BadRequest("Geo-query: 'coordinates' is required with 'georel' and 'geometry'");
        }

        return Create(georel, geometry, ParseCoordinatesText(coordinates), geoproperty, context);
    }

    /// <summary>
    /// Builds a geo-query from the <c>geoQ</c> member of a query or subscription body:
    /// <c>{"geometry": "Point", "coordinates": [8, 40] or "[8,40]", "georel": "near;maxDistance==10",
    /// "geoproperty": "location"}</c> (geoproperty optional).
    /// </summary>
    /// <exception cref="NgsiLdException">BadRequestData, for any malformed or missing member.</exception>
    public static GeoQuery FromGeoQ(JsonObject geoQ, LdContext context)
    {
        ArgumentNullException.ThrowIfNull(geoQ);
        ArgumentNullException.ThrowIfNull(context);
        try
        {
            return ReadGeoQ(geoQ, context);
        }
        catch (ArgumentException)
        {
            // JsonObject's lazy member lookup throws on a member given twice in the parsed text.
            throw NgsiLdException.BadRequest("geoQ: a member is given more than once");
        }
    }

    private static GeoQuery ReadGeoQ(JsonObject geoQ, LdContext context)
    {

        var georel = RequiredString(geoQ, "georel");
        var geometry = RequiredString(geoQ, "geometry");
        var coordinates = geoQ["coordinates"] switch
        {
            JsonArray array => array,
            JsonValue text when text.GetValueKind() == JsonValueKind.String => ParseCoordinatesText(text.GetValue<string>()),
            _ => throw NgsiLdException.BadRequest("geoQ: 'coordinates' is required and must be an array or a JSON string holding one"),
        };

        string? geoproperty = null;
        if (geoQ["geoproperty"] is { } node)
        {
            if (node is not JsonValue value || value.GetValueKind() != JsonValueKind.String)
            {
                throw NgsiLdException.BadRequest("geoQ: 'geoproperty' must be a string");
            }

            geoproperty = value.GetValue<string>();
        }

        return Create(georel, geometry, coordinates, geoproperty, context);
    }

    /// <inheritdoc />
    public bool Equals(GeoQuery? other) =>
        other is not null
        && Relation == other.Relation
        && GeoProperty == other.GeoProperty
        && MaxDistance == other.MaxDistance
        && MinDistance == other.MinDistance
        && Reference.EqualsExact(other.Reference);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Relation, GeoProperty, MaxDistance, MinDistance, Reference);

    private static GeoQuery Create(string? georel, string? geometry, JsonNode coordinates, string? geoproperty, LdContext context)
    {
        var (relation, maxDistance, minDistance) = ParseGeorel(georel);
        var type = ParseGeometryType(geometry);
        var reference = GeoJsonReader.Read(type, coordinates, out var error)
            ?? throw NgsiLdException.BadRequest($"Geo-query coordinates: {error}");
        if (relation == GeoRelation.Near && type != GeoJsonType.Point)
        {
            throw NgsiLdException.BadRequest($"Geo-query: georel 'near' needs a Point reference geometry, got {type}");
        }

        if (geoproperty is not null && string.IsNullOrWhiteSpace(geoproperty))
        {
            throw NgsiLdException.BadRequest("Geo-query: 'geoproperty' must not be empty");
        }

        var iri = context.ExpandTerm(geoproperty ?? DefaultGeoProperty);
        return new GeoQuery(relation, iri, maxDistance, minDistance, reference);
    }

    private static (GeoRelation Relation, double? Max, double? Min) ParseGeorel(string? georel)
    {
        if (string.IsNullOrEmpty(georel))
        {
            throw NgsiLdException.BadRequest("Geo-query: 'georel' is required with 'geometry' and 'coordinates'");
        }

        var parts = georel.Split(';');
        GeoRelation relation = parts[0] switch
        {
            "near" => GeoRelation.Near,
            "within" => GeoRelation.Within,
            "contains" => GeoRelation.Contains,
            "intersects" => GeoRelation.Intersects,
            "equals" => GeoRelation.Equals,
            "disjoint" => GeoRelation.Disjoint,
            "overlaps" => GeoRelation.Overlaps,
            _ => throw NgsiLdException.BadRequest(
                $"Geo-query: unknown georel '{Shorten(parts[0])}' (expected near, within, contains, intersects, equals, disjoint or overlaps)"),
        };

        if (relation != GeoRelation.Near)
        {
            if (parts.Length > 1)
            {
                throw NgsiLdException.BadRequest($"Geo-query: georel '{parts[0]}' takes no modifiers");
            }

            return (relation, null, null);
        }

        double? max = null;
        double? min = null;
        foreach (var modifier in parts.AsSpan(1))
        {
            var separator = modifier.IndexOf("==", StringComparison.Ordinal);
            if (separator < 0)
            {
                throw NgsiLdException.BadRequest(
                    $"Geo-query: malformed near modifier '{Shorten(modifier)}' (expected maxDistance==N or minDistance==N)");
            }

            var name = modifier[..separator];
            var distance = ParseDistance(name, modifier[(separator + 2)..]);
            switch (name)
            {
                case "maxDistance" when max is null:
                    max = distance;
                    break;
                case "minDistance" when min is null:
                    min = distance;
                    break;
                case "maxDistance" or "minDistance":
                    throw NgsiLdException.BadRequest($"Geo-query: '{name}' is given twice");
                default:
                    throw NgsiLdException.BadRequest(
                        $"Geo-query: unknown near modifier '{Shorten(name)}' (expected maxDistance or minDistance)");
            }
        }

        if (max is null && min is null)
        {
            throw NgsiLdException.BadRequest("Geo-query: georel 'near' needs maxDistance==N and/or minDistance==N (metres)");
        }

        if (max < min)
        {
            throw NgsiLdException.BadRequest("Geo-query: minDistance is greater than maxDistance");
        }

        return (relation, max, min);
    }

    private static double ParseDistance(string name, string text)
    {
        // Invariant culture and no thousands separators: "1,5" must not silently become 15.
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
            || !double.IsFinite(value) || value <= 0)
        {
            throw NgsiLdException.BadRequest($"Geo-query: {Shorten(name)} must be a positive number of metres, got '{Shorten(text)}'");
        }

        return value;
    }

    private static GeoJsonType ParseGeometryType(string? geometry)
    {
        if (string.IsNullOrEmpty(geometry))
        {
            throw NgsiLdException.BadRequest("Geo-query: 'geometry' is required with 'georel' and 'coordinates'");
        }

        foreach (var type in Enum.GetValues<GeoJsonType>())
        {
            if (string.Equals(geometry, type.ToString(), StringComparison.OrdinalIgnoreCase))
            {
                return type;
            }
        }

        throw NgsiLdException.BadRequest(string.Equals(geometry, "GeometryCollection", StringComparison.OrdinalIgnoreCase)
            ? "Geo-query: GeometryCollection is not supported"
            : $"Geo-query: unknown geometry '{Shorten(geometry)}' (expected Point, MultiPoint, LineString, MultiLineString, Polygon or MultiPolygon)");
    }

    private static JsonNode ParseCoordinatesText(string text)
    {
        if (TryParseJson(text) is { } node)
        {
            return node;
        }

        // The HTTP layer normally decodes query strings already; a still-encoded value ("%5B8%2C40%5D") is
        // decoded once more rather than rejected.
        if (text.Contains('%', StringComparison.Ordinal) && TryParseJson(Uri.UnescapeDataString(text)) is { } decoded)
        {
            return decoded;
        }

        throw NgsiLdException.BadRequest($"Geo-query: 'coordinates' is not a JSON array of coordinates: '{Shorten(text)}'");
    }

    private static JsonNode? TryParseJson(string text)
    {
        try
        {
            return JsonNode.Parse(text);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string RequiredString(JsonObject geoQ, string member) =>
        geoQ[member] is JsonValue value && value.GetValueKind() == JsonValueKind.String
            ? value.GetValue<string>()
            : throw NgsiLdException.BadRequest($"geoQ: '{member}' is required and must be a string");

    private static string Shorten(string text) => text.Length <= 60 ? text : string.Concat(text.AsSpan(0, 60), "…");

    private (double MinX, double MinY, double MaxX, double MaxY)? ComputeSearchBox()
    {
        switch (Relation)
        {
            case GeoRelation.Near when MaxDistance is { } max:
                var point = (Point)Reference;
                return GeoDistance.BoxAround(point.X, point.Y, max);
            case GeoRelation.Near or GeoRelation.Disjoint:
                // Far-away or disjoint targets can lie anywhere.
                return null;
            default:
                // within: the target lies inside the reference envelope; contains, equals, intersects and
                // overlaps all require sharing at least one point with the reference.
                var envelope = _referenceEnvelope;
                return (envelope.MinX, envelope.MinY, envelope.MaxX, envelope.MaxY);
        }
    }

    private bool MatchesAttribute(JsonObject entity)
    {
        if (!entity.TryGetPropertyValue(GeoProperty, out var attribute))
        {
            return false;
        }

        if (attribute is JsonArray instances)
        {
            // Indexed rather than foreach: JsonArray's enumerator is boxed, one allocation per entity.
            for (var i = 0; i < instances.Count; i++)
            {
                if (MatchesInstance(instances[i]))
                {
                    return true;
                }
            }

            return false;
        }

        // Tolerates a single instance not wrapped in an array, though the internal form always wraps it.
        return MatchesInstance(attribute);
    }

    private bool MatchesInstance(JsonNode? instance)
    {
        if (instance is not JsonObject obj || !GeoJsonReader.IsString(obj["type"], "GeoProperty"u8, "GeoProperty"))
        {
            return false;
        }

        var value = obj["value"];
        if (Relation == GeoRelation.Near)
        {
            return MatchesNear(value);
        }

        // Point targets outside the reference envelope are settled without building any geometry: only
        // disjoint holds for them. Inside it, the 2D point is enough, as every relation ignores altitude.
        if (GeoJsonReader.TryReadPointLonLat(value, out var lon, out var lat))
        {
            if (!_referenceEnvelope.Intersects(lon, lat))
            {
                return Relation == GeoRelation.Disjoint;
            }

            return Evaluate(GeoJsonReader.Factory.CreatePoint(new Coordinate(lon, lat)));
        }

        var target = GeoJsonReader.Read(value, out _);
        return target is not null && Evaluate(target);
    }

    private bool MatchesNear(JsonNode? value)
    {
        var reference = (Point)Reference;
        double distance;

        // Points are by far the most common location: measured straight from the JSON, no NTS geometry built.
        if (GeoJsonReader.TryReadPointLonLat(value, out var lon, out var lat))
        {
            distance = GeoDistance.Haversine(reference.X, reference.Y, lon, lat);
        }
        else if (GeoJsonReader.Read(value, out _) is { } target)
        {
            // Outside the search box means farther than maxDistance: skip the reprojection.
            if (_searchEnvelope is not null && !_searchEnvelope.Intersects(target.EnvelopeInternal))
            {
                return false;
            }

            distance = GeoDistance.DistanceTo(reference.X, reference.Y, target);
        }
        else
        {
            return false;
        }

        return (MaxDistance is not { } max || distance <= max) && (MinDistance is not { } min || distance >= min);
    }

    private bool Evaluate(Geometry target)
    {
        try
        {
            return (Relation, _prepared) switch
            {
                // Reference contains target <=> target within reference.
                (GeoRelation.Within, { } p) => p.Contains(target),
                (GeoRelation.Within, null) => target.Within(Reference),
                // Reference within target <=> target contains reference.
                (GeoRelation.Contains, { } p) => p.Within(target),
                (GeoRelation.Contains, null) => target.Contains(Reference),
                (GeoRelation.Intersects, { } p) => p.Intersects(target),
                (GeoRelation.Intersects, null) => target.Intersects(Reference),
                (GeoRelation.Disjoint, { } p) => p.Disjoint(target),
                (GeoRelation.Disjoint, null) => target.Disjoint(Reference),
                (GeoRelation.Overlaps, { } p) => p.Overlaps(target),
                (GeoRelation.Overlaps, null) => target.Overlaps(Reference),
                (GeoRelation.Equals, _) => target.EqualsTopologically(Reference),
                _ => false,
            };
        }
        catch (TopologyException)
        {
            // A stored geometry NTS cannot relate is a non-match, not a failed query.
            return false;
        }
    }
}
