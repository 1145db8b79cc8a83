using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using NetTopologySuite;
using NetTopologySuite.Geometries;

namespace CityOS.NgsiLd.Geo;

/// <summary>The GeoJSON geometry types NGSI-LD accepts (RFC 7946 §3.1 without GeometryCollection).</summary>
internal enum GeoJsonType
{
    Point,
    MultiPoint,
    LineString,
    MultiLineString,
    Polygon,
    MultiPolygon,
}

/// <summary>
/// Reads GeoJSON geometries straight from <see cref="JsonNode"/> trees into NTS geometries, without a
/// text round trip, because geo-queries re-read every stored geometry on each evaluation.
/// Never throws on malformed input: every failure comes back as an error text, so callers choose between
/// a BadRequestData (validation) and a silent non-match (evaluating stored data).
/// </summary>
internal static class GeoJsonReader
{
    /// <summary>
    /// WGS84 lon/lat geometries. RelateNG is chosen over the legacy relate because it only needs
    /// point-local topology, so self-intersecting (OGC-invalid) polygons, which GeoJSON does not forbid,
    /// cannot make a predicate throw.
    /// </summary>
    internal static readonly GeometryFactory Factory =
        new NtsGeometryServices(GeometryOverlay.NG, GeometryRelate.NG).CreateGeometryFactory(4326);

    /// <summary>Maps a GeoJSON type name (exact case, as RFC 7946 requires) to the type.</summary>
    internal static bool TryParseType(string? name, out GeoJsonType type)
    {
        switch (name)
        {
            case "Point": type = GeoJsonType.Point; return true;
            case "MultiPoint": type = GeoJsonType.MultiPoint; return true;
            case "LineString": type = GeoJsonType.LineString; return true;
            case "MultiLineString": type = GeoJsonType.MultiLineString; return true;
            case "Polygon": type = GeoJsonType.Polygon; return true;
            case "MultiPolygon": type = GeoJsonType.MultiPolygon; return true;
            default: type = default; return false;
        }
    }

    /// <summary>Reads a geometry object (<c>{"type": …, "coordinates": …}</c>).</summary>
    internal static Geometry? Read(JsonNode? node, out string? error)
    {
        try
        {
            return ReadObject(node, out error);
        }
        catch (ArgumentException) when (node is JsonObject)
        {
            // JsonObject builds its member lookup lazily, and throws then if the parsed text held a member twice.
            error = "Invalid GeoJSON geometry: a member is repeated";
            return null;
        }
    }

    private static Geometry? ReadObject(JsonNode? node, out string? error)
    {
        if (node is not JsonObject obj)
        {
            error = "Invalid GeoJSON geometry: it must be a JSON object with 'type' and 'coordinates'";
            return null;
        }

        if (!TryGetString(obj["type"], out var typeName))
        {
            error = "Invalid GeoJSON geometry: it needs a string member 'type'";
            return null;
        }

        if (!TryParseType(typeName, out var type))
        {
            error = typeName == "GeometryCollection"
                ? "Invalid GeoJSON geometry: GeometryCollection is not supported by NGSI-LD GeoProperties"
                : $"Invalid GeoJSON geometry: unknown type '{Truncate(typeName)}' (expected Point, MultiPoint, LineString, MultiLineString, Polygon or MultiPolygon)";
            return null;
        }

        if (!obj.TryGetPropertyValue("coordinates", out var coordinates))
        {
            error = $"Invalid GeoJSON {type}: it needs a member 'coordinates'";
            return null;
        }

        return Read(type, coordinates, out error);
    }

    /// <summary>Reads the coordinates member of a geometry of a known type.</summary>
    internal static Geometry? Read(GeoJsonType type, JsonNode? coordinates, out string? error)
    {
        Geometry? geometry = type switch
        {
            GeoJsonType.Point => ReadPoint(coordinates, out error),
            GeoJsonType.MultiPoint => ReadMultiPoint(coordinates, out error),
            GeoJsonType.LineString => ReadLineString(coordinates, out error),
            GeoJsonType.MultiLineString => ReadMultiLineString(coordinates, out error),
            GeoJsonType.Polygon => ReadPolygon(coordinates, out error),
            GeoJsonType.MultiPolygon => ReadMultiPolygon(coordinates, out error),
            _ => Fail(out error, "unsupported geometry type"),
        };
        if (geometry is null)
        {
            error = $"Invalid GeoJSON {type}: {error}";
        }

        return geometry;
    }

    /// <summary>
    /// The allocation-free fast path for the most common stored geometry: a Point. False (with no error
    /// reported) for anything that is not a well-formed Point.
    /// </summary>
    internal static bool TryReadPointLonLat(JsonNode? node, out double lon, out double lat)
    {
        lon = lat = 0;
        try
        {
            return node is JsonObject obj
                && IsString(obj["type"], "Point"u8, "Point")
                && TryReadPosition(obj["coordinates"], out lon, out lat, out _, out _) is null;
        }
        catch (ArgumentException)
        {
            // A repeated member (see Read): not a well-formed Point.
            return false;
        }
    }

    /// <summary>
    /// True when the node is the given JSON string. Parsed documents are compared on their UTF-8 bytes, so
    /// the hot path does not allocate a string per attribute instance.
    /// </summary>
    internal static bool IsString(JsonNode? node, ReadOnlySpan<byte> utf8, string text)
    {
        if (node is not JsonValue value || value.GetValueKind() != JsonValueKind.String)
        {
            return false;
        }

        return value.TryGetValue(out JsonElement element)
            ? element.ValueEquals(utf8)
            : value.TryGetValue(out string? s) && s == text;
    }

    private static Point? ReadPoint(JsonNode? node, out string? error)
    {
        if (!TryReadCoordinate(node, out var c, out error))
        {
            return null;
        }

        return Factory.CreatePoint(c);
    }

    private static MultiPoint? ReadMultiPoint(JsonNode? node, out string? error)
    {
        if (!TryReadPositions(node, 1, "a MultiPoint", out var coordinates, out error))
        {
            return null;
        }

        return Factory.CreateMultiPointFromCoords(coordinates);
    }

    private static LineString? ReadLineString(JsonNode? node, out string? error)
    {
        if (!TryReadPositions(node, 2, "a LineString", out var coordinates, out error))
        {
            return null;
        }

        return Factory.CreateLineString(coordinates);
    }

    private static MultiLineString? ReadMultiLineString(JsonNode? node, out string? error)
    {
        if (!TryGetNonEmptyArray(node, "a MultiLineString", "LineString", out var array, out error))
        {
            return null;
        }

        var lines = new LineString[array.Count];
        for (var i = 0; i < lines.Length; i++)
        {
            var line = ReadLineString(array[i], out error);
            if (line is null)
            {
                error = $"LineString {i}: {error}";
                return null;
            }

            lines[i] = line;
        }

        return Factory.CreateMultiLineString(lines);
    }

    private static Polygon? ReadPolygon(JsonNode? node, out string? error)
    {
        if (!TryGetNonEmptyArray(node, "a Polygon", "linear ring", out var array, out error))
        {
            return null;
        }

        var rings = new Coordinate[array.Count][];
        for (var i = 0; i < rings.Length; i++)
        {
            if (!TryReadPositions(array[i], 4, "a linear ring", out var ring, out error))
            {
                error = $"ring {i}: {error}";
                return null;
            }

            if (!SamePosition(ring[0], ring[^1]))
            {
                error = $"ring {i} is not closed: its first and last positions must be identical";
                return null;
            }

            rings[i] = ring;
        }

        // NTS re-checks ring validity itself; what it rejects that we did not is still the client's data error.
        try
        {
            var holes = new LinearRing[rings.Length - 1];
            for (var i = 0; i < holes.Length; i++)
            {
                holes[i] = Factory.CreateLinearRing(rings[i + 1]);
            }

            return Factory.CreatePolygon(Factory.CreateLinearRing(rings[0]), holes);
        }
        catch (ArgumentException ex)
        {
            error = ex.Message;
            return null;
        }
    }

    private static MultiPolygon? ReadMultiPolygon(JsonNode? node, out string? error)
    {
        if (!TryGetNonEmptyArray(node, "a MultiPolygon", "Polygon", out var array, out error))
        {
            return null;
        }

        var polygons = new Polygon[array.Count];
        for (var i = 0; i < polygons.Length; i++)
        {
            var polygon = ReadPolygon(array[i], out error);
            if (polygon is null)
            {
                error = $"Polygon {i}: {error}";
                return null;
            }

            polygons[i] = polygon;
        }

        return Factory.CreateMultiPolygon(polygons);
    }

    private static bool TryReadPositions(JsonNode? node, int minimum, string what, out Coordinate[] coordinates, out string? error)
    {
        coordinates = [];
        if (node is not JsonArray array)
        {
            error = $"the coordinates of {what} must be an array of positions";
            return false;
        }

        if (array.Count < minimum)
        {
            error = $"{what} needs at least {minimum} position{(minimum == 1 ? string.Empty : "s")}, got {array.Count}";
            return false;
        }

        var result = new Coordinate[array.Count];
        for (var i = 0; i < result.Length; i++)
        {
            if (!TryReadCoordinate(array[i], out result[i], out error))
            {
                error = $"position {i}: {error}";
                return false;
            }
        }

        coordinates = result;
        error = null;
        return true;
    }

    private static bool TryReadCoordinate(JsonNode? node, out Coordinate coordinate, out string? error)
    {
        error = TryReadPosition(node, out var lon, out var lat, out var alt, out var hasAlt);
        if (error is not null)
        {
            coordinate = null!;
            return false;
        }

        coordinate = hasAlt ? new CoordinateZ(lon, lat, alt) : new Coordinate(lon, lat);
        return true;
    }

    /// <summary>Reads [lon, lat(, alt)]; returns null on success, else the error text.</summary>
    private static string? TryReadPosition(JsonNode? node, out double lon, out double lat, out double alt, out bool hasAlt)
    {
        lon = lat = alt = 0;
        hasAlt = false;
        if (node is not JsonArray position || position.Count is < 2 or > 3)
        {
            return "a position must be an array of 2 or 3 numbers [longitude, latitude(, altitude)]";
        }

        if (!TryGetNumber(position[0], out lon) || !TryGetNumber(position[1], out lat))
        {
            return "longitude and latitude must be JSON numbers";
        }

        // Written as negated ranges so that NaN and infinities (possible in programmatically built nodes) fail too.
        if (!(lon >= -180 && lon <= 180))
        {
            return $"longitude {Format(lon)} is outside [-180, 180]";
        }

        if (!(lat >= -90 && lat <= 90))
        {
            return $"latitude {Format(lat)} is outside [-90, 90]";
        }

        if (position.Count == 3)
        {
            if (!TryGetNumber(position[2], out alt) || !double.IsFinite(alt))
            {
                return "altitude must be a finite JSON number";
            }

            hasAlt = true;
        }

        return null;
    }

    private static bool TryGetNonEmptyArray(JsonNode? node, string what, string member, out JsonArray array, out string? error)
    {
        if (node is JsonArray a && a.Count > 0)
        {
            array = a;
            error = null;
            return true;
        }

        array = null!;
        error = $"the coordinates of {what} must be a non-empty array of {member} coordinate arrays";
        return false;
    }

    /// <summary>RFC 7946 §3.1.6: first and last ring positions "MUST contain identical values" (altitude included).</summary>
    private static bool SamePosition(Coordinate a, Coordinate b) =>
        a.X == b.X && a.Y == b.Y && a.Z.Equals(b.Z);

    private static bool TryGetNumber(JsonNode? node, out double value)
    {
        value = 0;
        if (node is not JsonValue v || v.GetValueKind() != JsonValueKind.Number)
        {
            return false;
        }

        // JsonElement-backed values (parsed text) convert directly; values built in code may hold any numeric CLR type.
        if (v.TryGetValue(out value))
        {
            return true;
        }

        if (v.TryGetValue(out long l))
        {
            value = l;
            return true;
        }

        if (v.TryGetValue(out decimal m))
        {
            value = (double)m;
            return true;
        }

        if (v.TryGetValue(out int i))
        {
            value = i;
            return true;
        }

        if (v.TryGetValue(out float f))
        {
            value = f;
            return true;
        }

        return false;
    }

    private static bool TryGetString(JsonNode? node, out string value)
    {
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.String && v.TryGetValue(out string? s))
        {
            value = s;
            return true;
        }

        value = string.Empty;
        return false;
    }

    private static Geometry? Fail(out string? error, string message)
    {
        error = message;
        return null;
    }

    private static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static string Truncate(string text) => text.Length <= 40 ? text : string.Concat(text.AsSpan(0, 40), "…");
}
