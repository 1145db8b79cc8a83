using System.Text.Json.Nodes;
using CityOS.NgsiLd.Errors;
using CityOS.NgsiLd.Geo;
using NetTopologySuite.Geometries;

namespace CityOS.NgsiLd.Tests.Geo;

public sealed class GeoJsonTests
{
    [Fact]
    public void Point_becomes_an_NTS_point_with_SRID_4326()
    {
        var geometry = GeoJson.ToGeometry(JsonNode.Parse("""{"type":"Point","coordinates":[106.698,10.772]}"""));

        var point = Assert.IsType<Point>(geometry);
        Assert.Equal(106.698, point.X);
        Assert.Equal(10.772, point.Y);
        Assert.Equal(4326, point.SRID);
    }

    [Fact]
    public void Altitude_is_kept_as_Z()
    {
        var point = (Point)GeoJson.ToGeometry(JsonNode.Parse("""{"type":"Point","coordinates":[108.2,16.06,12.5]}"""));

        Assert.Equal(12.5, point.Coordinate.Z);
    }

    [Theory]
    [InlineData("""{"type":"MultiPoint","coordinates":[[1,2],[3,4]]}""", typeof(MultiPoint), 2)]
    [InlineData("""{"type":"LineString","coordinates":[[1,2],[3,4],[5,6]]}""", typeof(LineString), 3)]
    [InlineData("""{"type":"MultiLineString","coordinates":[[[1,2],[3,4]],[[5,6],[7,8]]]}""", typeof(MultiLineString), 4)]
    [InlineData("""{"type":"Polygon","coordinates":[[[0,0],[0,10],[10,10],[10,0],[0,0]],[[2,2],[2,3],[3,3],[2,2]]]}""", typeof(Polygon), 9)]
    [InlineData("""{"type":"MultiPolygon","coordinates":[[[[0,0],[0,1],[1,1],[0,0]]],[[[5,5],[5,6],[6,6],[5,5]]]]}""", typeof(MultiPolygon), 8)]
    [InlineData("""{"type":"Point","coordinates":[-180,-90],"bbox":[-180,-90,-180,-90]}""", typeof(Point), 1)]
    public void Supported_geometry_types_are_converted(string json, Type expected, int points)
    {
        var geometry = GeoJson.ToGeometry(JsonNode.Parse(json));

        Assert.IsType(expected, geometry);
        Assert.Equal(points, geometry.NumPoints);
    }

    [Fact]
    public void Polygon_holes_become_interior_rings()
    {
        var polygon = (Polygon)GeoJson.ToGeometry(JsonNode.Parse(
            """{"type":"Polygon","coordinates":[[[0,0],[0,10],[10,10],[10,0],[0,0]],[[2,2],[2,3],[3,3],[2,2]]]}"""));

        Assert.Equal(1, polygon.NumInteriorRings);
        Assert.False(polygon.Contains(polygon.Factory.CreatePoint(new Coordinate(2.2, 2.8))));
        Assert.True(polygon.Contains(polygon.Factory.CreatePoint(new Coordinate(5, 5))));
    }

    [Fact]
    public void Numbers_in_programmatically_built_nodes_are_accepted()
    {
        var node = new JsonObject { ["type"] = "Point", ["coordinates"] = new JsonArray(8, 40.5m) };

        var point = (Point)GeoJson.ToGeometry(node);

        Assert.Equal(8, point.X);
        Assert.Equal(40.5, point.Y);
    }

    [Theory]
    [InlineData("null", "object")]
    [InlineData("\"Point\"", "object")]
    [InlineData("[1,2]", "object")]
    [InlineData("""{"coordinates":[1,2]}""", "type")]
    [InlineData("""{"type":5,"coordinates":[1,2]}""", "type")]
    [InlineData("""{"type":"point","coordinates":[1,2]}""", "unknown type")]
    [InlineData("""{"type":"Circle","coordinates":[1,2]}""", "unknown type")]
    [InlineData("""{"type":"GeometryCollection","geometries":[{"type":"Point","coordinates":[1,2]}]}""", "GeometryCollection")]
    [InlineData("""{"type":"Point"}""", "coordinates")]
    [InlineData("""{"type":"Point","coordinates":null}""", "position")]
    [InlineData("""{"type":"Point","coordinates":[1]}""", "position")]
    [InlineData("""{"type":"Point","coordinates":[1,2,3,4]}""", "position")]
    [InlineData("""{"type":"Point","coordinates":["1","2"]}""", "numbers")]
    [InlineData("""{"type":"Point","coordinates":[1,true]}""", "numbers")]
    [InlineData("""{"type":"Point","coordinates":[1,null]}""", "numbers")]
    [InlineData("""{"type":"Point","coordinates":[[1,2]]}""", "numbers")]
    [InlineData("""{"type":"Point","coordinates":{"lon":1,"lat":2}}""", "position")]
    [InlineData("""{"type":"Point","coordinates":[180.0001,0]}""", "longitude")]
    [InlineData("""{"type":"Point","coordinates":[-181,0]}""", "longitude")]
    [InlineData("""{"type":"Point","coordinates":[0,90.5]}""", "latitude")]
    [InlineData("""{"type":"Point","coordinates":[0,-91]}""", "latitude")]
    [InlineData("""{"type":"Point","coordinates":[0,0,"high"]}""", "altitude")]
    [InlineData("""{"type":"Point","coordinates":[1e400,0]}""", "longitude")]
    [InlineData("""{"type":"MultiPoint","coordinates":[]}""", "at least 1")]
    [InlineData("""{"type":"MultiPoint","coordinates":[1,2]}""", "position 0")]
    [InlineData("""{"type":"LineString","coordinates":[[1,2]]}""", "at least 2")]
    [InlineData("""{"type":"LineString","coordinates":[1,2]}""", "position 0")]
    [InlineData("""{"type":"LineString","coordinates":[[1,2],[3,95]]}""", "position 1")]
    [InlineData("""{"type":"MultiLineString","coordinates":[]}""", "non-empty")]
    [InlineData("""{"type":"MultiLineString","coordinates":[[[1,2],[3,4]],[[1,2]]]}""", "LineString 1")]
    [InlineData("""{"type":"Polygon","coordinates":[]}""", "non-empty")]
    [InlineData("""{"type":"Polygon","coordinates":[[0,0],[0,1],[1,1],[0,0]]}""", "ring 0")]
    [InlineData("""{"type":"Polygon","coordinates":[[[0,0],[0,1],[0,0]]]}""", "at least 4")]
    [InlineData("""{"type":"Polygon","coordinates":[[[0,0],[0,1],[1,1],[1,0]]]}""", "not closed")]
    [InlineData("""{"type":"Polygon","coordinates":[[[0,0,1],[0,1,1],[1,1,1],[0,0,2]]]}""", "not closed")]
    [InlineData("""{"type":"Polygon","coordinates":[[[0,0],[0,9],[9,9],[0,0]],[[1,1],[1,2],[2,2]]]}""", "ring 1")]
    [InlineData("""{"type":"MultiPolygon","coordinates":[[[[0,0],[0,1],[1,1],[0,0]]],[]]}""", "Polygon 1")]
    [InlineData("""{"type":"MultiPolygon","coordinates":[[[0,0],[0,1],[1,1],[0,0]]]}""", "Polygon 0")]
    public void Invalid_geometries_are_BadRequestData_with_a_clear_detail(string json, string detailPart)
    {
        var ex = Assert.Throws<NgsiLdException>(() => GeoJson.ToGeometry(JsonNode.Parse(json)));

        Assert.Equal(ErrorType.BadRequestData, ex.Type);
        Assert.Contains(detailPart, ex.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Null_node_is_BadRequestData()
    {
        var ex = Assert.Throws<NgsiLdException>(() => GeoJson.ToGeometry(null));

        Assert.Equal(ErrorType.BadRequestData, ex.Type);
    }

    [Theory]
    [InlineData(double.NaN, 0)]
    [InlineData(0, double.NaN)]
    [InlineData(double.PositiveInfinity, 0)]
    [InlineData(0, double.NegativeInfinity)]
    public void Non_finite_numbers_in_built_nodes_are_BadRequestData(double lon, double lat)
    {
        var node = new JsonObject { ["type"] = "Point", ["coordinates"] = new JsonArray(lon, lat) };

        var ex = Assert.Throws<NgsiLdException>(() => GeoJson.ToGeometry(node));

        Assert.Equal(ErrorType.BadRequestData, ex.Type);
    }

    [Fact]
    public void Deeply_nested_and_huge_garbage_arrays_are_BadRequestData()
    {
        var nested = new JsonArray();
        var inner = nested;
        for (var i = 0; i < 200; i++)
        {
            var next = new JsonArray();
            inner.Add(next);
            inner = next;
        }

        var huge = new JsonArray();
        for (var i = 0; i < 100_000; i++)
        {
            huge.Add(i);
        }

        foreach (var type in new[] { "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon" })
        {
            foreach (var coordinates in new JsonNode[] { nested, huge, new JsonObject(), JsonValue.Create("[1,2]") })
            {
                var node = new JsonObject { ["type"] = type, ["coordinates"] = coordinates.DeepClone() };
                var ex = Assert.Throws<NgsiLdException>(() => GeoJson.ToGeometry(node));
                Assert.Equal(ErrorType.BadRequestData, ex.Type);
            }
        }
    }

    [Fact]
    public void Large_valid_linestring_is_accepted()
    {
        var positions = new JsonArray();
        for (var i = 0; i < 50_000; i++)
        {
            positions.Add(new JsonArray(106 + (i * 1e-5), 10.7));
        }

        var line = GeoJson.ToGeometry(new JsonObject { ["type"] = "LineString", ["coordinates"] = positions });

        Assert.Equal(50_000, line.NumPoints);
    }

    [Fact]
    public void Envelope_is_the_lon_lat_bounding_box()
    {
        var box = GeoJson.Envelope(JsonNode.Parse(
            """{"type":"LineString","coordinates":[[106.69,10.79],[106.71,10.76],[106.70,10.78]]}""")!);

        Assert.Equal((106.69, 10.76, 106.71, 10.79), box);
    }

    [Fact]
    public void Envelope_of_a_point_is_degenerate()
    {
        var box = GeoJson.Envelope(JsonNode.Parse("""{"type":"Point","coordinates":[108.22,16.06]}""")!);

        Assert.Equal((108.22, 16.06, 108.22, 16.06), box);
    }

    [Fact]
    public void Envelope_validates_like_ToGeometry()
    {
        var ex = Assert.Throws<NgsiLdException>(() => GeoJson.Envelope(JsonNode.Parse("""{"type":"LineString","coordinates":[[1,2]]}""")!));

        Assert.Equal(ErrorType.BadRequestData, ex.Type);
    }

    [Fact]
    public void Repeated_members_are_BadRequestData_not_ArgumentException()
    {
        // JsonNode.Parse accepts the text; JsonObject only throws when a member is first looked up.
        var node = JsonNode.Parse("""{"type":"Point","type":"Point","coordinates":[1,2]}""");

        var ex = Assert.Throws<NgsiLdException>(() => GeoJson.ToGeometry(node));

        Assert.Equal(ErrorType.BadRequestData, ex.Type);
        Assert.Contains("repeated", ex.Message, StringComparison.Ordinal);
    }
}
