using System.Text.Json.Nodes;

namespace CityOS.Broker.Storage;

/// <summary>
/// The bounding box of a GeoJSON geometry, for a store's spatial index (SQLite R-tree, PostGIS GiST), shared
/// by every backend so that they index exactly the same values. Deliberately not
/// <c>CityOS.NgsiLd.Geo.GeoJson.Envelope</c>: that one validates and throws BadRequest on anything that is
/// not a valid geometry, and builds an NTS geometry to read its envelope. The index must accept whatever
/// a stored entity holds (it boxes every geometry-looking value, not only valid GeoProperties, so that it
/// stays a superset of what the geo evaluator may match) and runs on the single writer thread for every
/// insert, where walking the coordinate arrays is all a bbox needs and allocates nothing.
/// </summary>
public static class GeoEnvelope
{
    /// <summary>True (with the box) when <paramref name="geometry"/> looks like a GeoJSON geometry with at least one position.</summary>
    public static bool TryCompute(JsonObject geometry, out (double MinX, double MinY, double MaxX, double MaxY) box)
    {
        var acc = new Accumulator();
        Walk(geometry, ref acc, 0);
        box = (acc.MinX, acc.MinY, acc.MaxX, acc.MaxY);
        return acc.Any;
    }

    /// <summary>True when <paramref name="node"/> is an object with GeoJSON geometry members.</summary>
    public static bool IsGeometry(JsonNode? node) =>
        node is JsonObject o && o["type"] is JsonValue && (o["coordinates"] is JsonArray || o["geometries"] is JsonArray);

    private static void Walk(JsonObject geometry, ref Accumulator acc, int depth)
    {
        if (depth > 8)
        {
            return;
        }

        if (geometry["coordinates"] is JsonArray coordinates)
        {
            WalkCoordinates(coordinates, ref acc, 0);
        }

        if (geometry["geometries"] is JsonArray geometries)
        {
            foreach (var member in geometries)
            {
                if (member is JsonObject child)
                {
                    Walk(child, ref acc, depth + 1);
                }
            }
        }
    }

    private static void WalkCoordinates(JsonArray array, ref Accumulator acc, int depth)
    {
        // Positions sit at most four arrays deep (MultiPolygon); anything deeper is not GeoJSON.
        if (depth > 4)
        {
            return;
        }

        if (array.Count >= 2 && TryNumber(array[0], out var x) && TryNumber(array[1], out var y))
        {
            acc.Add(x, y);
            return;
        }

        foreach (var item in array)
        {
            if (item is JsonArray inner)
            {
                WalkCoordinates(inner, ref acc, depth + 1);
            }
        }
    }

    private static bool TryNumber(JsonNode? node, out double value)
    {
        value = 0;
        if (node is not JsonValue v)
        {
            return false;
        }

        // Parsed documents hold JsonElements (read as double); entities built in code hold CLR numbers.
        if (v.TryGetValue(out value))
        {
            return double.IsFinite(value);
        }

        if (v.TryGetValue(out int i))
        {
            value = i;
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

        if (v.TryGetValue(out float f))
        {
            value = f;
            return float.IsFinite(f);
        }

        return false;
    }

    private struct Accumulator
    {
        public bool Any;
        public double MinX;
        public double MinY;
        public double MaxX;
        public double MaxY;

        public void Add(double x, double y)
        {
            if (!Any)
            {
                (MinX, MinY, MaxX, MaxY, Any) = (x, y, x, y, true);
                return;
            }

            MinX = Math.Min(MinX, x);
            MinY = Math.Min(MinY, y);
            MaxX = Math.Max(MaxX, x);
            MaxY = Math.Max(MaxY, y);
        }
    }
}
