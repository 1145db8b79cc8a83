using NetTopologySuite.Geometries;

namespace CityOS.NgsiLd.Geo;

/// <summary>
/// Distances in metres for <c>near</c> queries, on a sphere of the IUGG mean Earth radius.
/// <para>
/// Point to point: the haversine great-circle distance, which stays within about 0.5 % of the WGS84
/// ellipsoidal (geodesic) distance anywhere, and is exact on the sphere.
/// </para>
/// <para>
/// Point to any other geometry: the geometry is projected with a spherical azimuthal equidistant
/// projection centred on the reference point, and NTS computes the planar distance from the origin to the
/// nearest point of the projected geometry. That projection keeps every distance from its centre exact,
/// so vertices are exact; edges become straight lines in the projected plane instead of great-circle arcs,
/// which at city scale (tens of kilometres) shifts the nearest point of an edge by far less than 1 %.
/// </para>
/// Geometries across the antimeridian (±180° longitude) are out of scope.
/// </summary>
internal static class GeoDistance
{
    /// <summary>IUGG mean Earth radius R1 in metres.</summary>
    internal const double EarthRadius = 6_371_008.8;

    private const double DegToRad = Math.PI / 180;
    private const double RadToDeg = 180 / Math.PI;

    /// <summary>The great-circle distance in metres between two lon/lat points (degrees).</summary>
    internal static double Haversine(double lon1, double lat1, double lon2, double lat2)
    {
        var phi1 = lat1 * DegToRad;
        var phi2 = lat2 * DegToRad;
        var sinHalfDPhi = Math.Sin((phi2 - phi1) / 2);
        var sinHalfDLambda = Math.Sin((lon2 - lon1) * DegToRad / 2);
        var h = (sinHalfDPhi * sinHalfDPhi) + (Math.Cos(phi1) * Math.Cos(phi2) * sinHalfDLambda * sinHalfDLambda);
        return 2 * EarthRadius * Math.Asin(Math.Sqrt(Math.Clamp(h, 0, 1)));
    }

    /// <summary>
    /// The distance in metres from a lon/lat point to the nearest point of a lon/lat geometry (0 when the
    /// geometry contains the point). Reprojects <paramref name="target"/> in place, so pass a geometry the
    /// caller owns and does not reuse.
    /// </summary>
    internal static double DistanceTo(double lon, double lat, Geometry target)
    {
        if (target is Point p)
        {
            return Haversine(lon, lat, p.X, p.Y);
        }

        target.Apply(new AzimuthalEquidistantFilter(lon, lat));
        return target.Distance(GeoJsonReader.Factory.CreatePoint(new Coordinate(0, 0)));
    }

    /// <summary>
    /// A lon/lat box that contains every point within <paramref name="metres"/> of (lon, lat) on the sphere,
    /// widened by a safety margin so that the reprojection approximation above can never fall outside it.
    /// Falls back to the full longitude range when the circle reaches a pole or the antimeridian.
    /// </summary>
    internal static (double MinX, double MinY, double MaxX, double MaxY) BoxAround(double lon, double lat, double metres)
    {
        // 1 % plus one metre of slack: generous compared with the projection error, negligible for an index.
        var angular = ((metres * 1.01) + 1) / EarthRadius;
        if (angular >= Math.PI / 2)
        {
            return (-180, -90, 180, 90);
        }

        var dLat = angular * RadToDeg;
        var minY = lat - dLat;
        var maxY = lat + dLat;
        if (minY <= -90 || maxY >= 90)
        {
            return (-180, Math.Max(minY, -90), 180, Math.Min(maxY, 90));
        }

        // The widest longitude reach of a spherical cap of angular radius r centred at latitude phi is
        // asin(sin r / cos phi); the cap does not reach a pole here, so the ratio is below 1.
        var ratio = Math.Sin(angular) / Math.Cos(lat * DegToRad);
        if (ratio >= 1)
        {
            return (-180, minY, 180, maxY);
        }

        var dLon = Math.Asin(ratio) * RadToDeg;
        var minX = lon - dLon;
        var maxX = lon + dLon;
        if (minX < -180 || maxX > 180)
        {
            return (-180, minY, 180, maxY);
        }

        return (minX, minY, maxX, maxY);
    }

    /// <summary>Spherical azimuthal equidistant projection centred on (lon0, lat0), in metres.</summary>
    private sealed class AzimuthalEquidistantFilter : ICoordinateSequenceFilter
    {
        private readonly double _lambda0;
        private readonly double _sinPhi0;
        private readonly double _cosPhi0;
        private readonly double _lat0;

        public AzimuthalEquidistantFilter(double lon0, double lat0)
        {
            _lambda0 = lon0 * DegToRad;
            _lat0 = lat0;
            _sinPhi0 = Math.Sin(lat0 * DegToRad);
            _cosPhi0 = Math.Cos(lat0 * DegToRad);
        }

        public bool Done => false;

        public bool GeometryChanged => true;

        public void Filter(CoordinateSequence seq, int i)
        {
            var lon = seq.GetX(i);
            var lat = seq.GetY(i);
            var phi = lat * DegToRad;
            var dLambda = (lon * DegToRad) - _lambda0;
            var sinPhi = Math.Sin(phi);
            var cosPhi = Math.Cos(phi);
            var cosDLambda = Math.Cos(dLambda);

            // The angular distance c comes from haversine rather than acos, which loses precision for the
            // short distances that matter here.
            var sinHalfDPhi = Math.Sin((lat - _lat0) * DegToRad / 2);
            var sinHalfDLambda = Math.Sin(dLambda / 2);
            var h = (sinHalfDPhi * sinHalfDPhi) + (_cosPhi0 * cosPhi * sinHalfDLambda * sinHalfDLambda);
            var c = 2 * Math.Asin(Math.Sqrt(Math.Clamp(h, 0, 1)));
            var sinC = Math.Sin(c);

            // k = c / sin c scales the orthographic direction to the true distance; 1 at the centre, and
            // the antipode (sin c = 0, direction undefined) is put at the right distance in any direction.
            double x;
            double y;
            if (c < 1e-12)
            {
                x = EarthRadius * cosPhi * Math.Sin(dLambda);
                y = EarthRadius * ((_cosPhi0 * sinPhi) - (_sinPhi0 * cosPhi * cosDLambda));
            }
            else if (sinC < 1e-12)
            {
                x = EarthRadius * c;
                y = 0;
            }
            else
            {
                var k = c / sinC;
                x = EarthRadius * k * cosPhi * Math.Sin(dLambda);
                y = EarthRadius * k * ((_cosPhi0 * sinPhi) - (_sinPhi0 * cosPhi * cosDLambda));
            }

            seq.SetX(i, x);
            seq.SetY(i, y);
        }
    }
}
