using System.Text.Json.Nodes;
using CityOS.NgsiLd.Errors;
using CityOS.NgsiLd.Geo;
using CityOS.NgsiLd.JsonLd;
using NetTopologySuite.Geometries;

namespace CityOS.NgsiLd.Tests.Geo;

public sealed class GeoQueryParseTests
{
    private const string Location = "https://uri.etsi.org/ngsi-ld/location";

    [Fact]
    public void Near_with_maxDistance_parses_relation_distance_and_default_geoproperty()
    {
        var query = GeoQuery.Parse("near;maxDistance==1000", "Point", "[106.698,10.772]", null, LdContext.Core);

        Assert.Equal(GeoRelation.Near, query.Relation);
        Assert.Equal(1000, query.MaxDistance);
        Assert.Null(query.MinDistance);
        Assert.Equal(Location, query.GeoProperty);
        var point = Assert.IsType<Point>(query.Reference);
        Assert.Equal(106.698, point.X);
    }

    [Fact]
    public void Near_accepts_both_distances_in_any_order()
    {
        var query = GeoQuery.Parse("near;minDistance==10.5;maxDistance==2e3", "Point", "[8,40]", null, LdContext.Core);

        Assert.Equal(2000, query.MaxDistance);
        Assert.Equal(10.5, query.MinDistance);
    }

    [Theory]
    [InlineData("within", GeoRelation.Within)]
    [InlineData("contains", GeoRelation.Contains)]
    [InlineData("intersects", GeoRelation.Intersects)]
    [InlineData("equals", GeoRelation.Equals)]
    [InlineData("disjoint", GeoRelation.Disjoint)]
    [InlineData("overlaps", GeoRelation.Overlaps)]
    public void Topological_relations_parse(string georel, GeoRelation expected)
    {
        var query = GeoQuery.Parse(georel, "Polygon", "[[[0,0],[0,1],[1,1],[1,0],[0,0]]]", null, LdContext.Core);

        Assert.Equal(expected, query.Relation);
        Assert.Null(query.MaxDistance);
        Assert.Null(query.MinDistance);
    }

    [Fact]
    public void Geoproperty_is_expanded_with_the_context()
    {
        var query = GeoQuery.Parse("within", "Polygon", "[[[0,0],[0,1],[1,1],[1,0],[0,0]]]", "observationSpace", LdContext.Core);
        var custom = GeoQuery.Parse("within", "Polygon", "[[[0,0],[0,1],[1,1],[1,0],[0,0]]]", "route", LdContext.Core);

        Assert.Equal("https://uri.etsi.org/ngsi-ld/observationSpace", query.GeoProperty);
        Assert.Equal(LdContext.Core.ExpandTerm("route"), custom.GeoProperty);
    }

    [Theory]
    [InlineData("polygon")]
    [InlineData("POLYGON")]
    public void Geometry_name_is_case_insensitive(string geometry)
    {
        var query = GeoQuery.Parse("within", geometry, "[[[0,0],[0,1],[1,1],[1,0],[0,0]]]", null, LdContext.Core);

        Assert.IsType<Polygon>(query.Reference);
    }

    [Theory]
    [InlineData("%5B8%2C40%5D")]
    [InlineData(" [8, 40] ")]
    public void Coordinates_may_be_percent_encoded_or_padded(string coordinates)
    {
        var query = GeoQuery.Parse("near;maxDistance==5", "Point", coordinates, null, LdContext.Core);

        Assert.Equal(new Coordinate(8, 40), query.Reference.Coordinate);
    }

    [Theory]
    // georel
    [InlineData("", "Point", "[8,40]")]
    [InlineData("near", "Point", "[8,40]")]
    [InlineData("near;", "Point", "[8,40]")]
    [InlineData("near;maxDistance=10", "Point", "[8,40]")]
    [InlineData("near;maxDistance===10", "Point", "[8,40]")]
    [InlineData("near;maxDistance==", "Point", "[8,40]")]
    [InlineData("near;maxDistance==abc", "Point", "[8,40]")]
    [InlineData("near;maxDistance==0", "Point", "[8,40]")]
    [InlineData("near;maxDistance==-5", "Point", "[8,40]")]
    [InlineData("near;maxDistance==NaN", "Point", "[8,40]")]
    [InlineData("near;maxDistance==Infinity", "Point", "[8,40]")]
    [InlineData("near;maxDistance==1,5", "Point", "[8,40]")]
    [InlineData("near;minDistance==0", "Point", "[8,40]")]
    [InlineData("near;maxDistance==10;maxDistance==20", "Point", "[8,40]")]
    [InlineData("near;maxDistance==10;", "Point", "[8,40]")]
    [InlineData("near;maxDistance==10;minDistance==20", "Point", "[8,40]")]
    [InlineData("near;distance==10", "Point", "[8,40]")]
    [InlineData("near;maxdistance==10", "Point", "[8,40]")]
    [InlineData("near;maxDistance:10", "Point", "[8,40]")]
    [InlineData("Near;maxDistance==10", "Point", "[8,40]")]
    [InlineData("nearby;maxDistance==10", "Point", "[8,40]")]
    [InlineData("within;maxDistance==10", "Polygon", "[[[0,0],[0,1],[1,1],[1,0],[0,0]]]")]
    [InlineData("within;", "Polygon", "[[[0,0],[0,1],[1,1],[1,0],[0,0]]]")]
    [InlineData("covers", "Polygon", "[[[0,0],[0,1],[1,1],[1,0],[0,0]]]")]
    // near needs a Point
    [InlineData("near;maxDistance==10", "Polygon", "[[[0,0],[0,1],[1,1],[1,0],[0,0]]]")]
    [InlineData("near;maxDistance==10", "LineString", "[[0,0],[1,1]]")]
    // geometry
    [InlineData("within", "", "[8,40]")]
    [InlineData("within", "Circle", "[8,40]")]
    [InlineData("within", "GeometryCollection", "[8,40]")]
    // coordinates
    [InlineData("within", "Point", "")]
    [InlineData("within", "Point", "8,40")]
    [InlineData("within", "Point", "[8,40")]
    [InlineData("within", "Point", "[8,40]]")]
    [InlineData("within", "Point", "{\"lon\":8}")]
    [InlineData("within", "Point", "\"[8,40]\"")]
    [InlineData("within", "Point", "[8,400]")]
    [InlineData("within", "Point", "[[8,40]]")]
    [InlineData("within", "Polygon", "[8,40]")]
    [InlineData("within", "Polygon", "[[[0,0],[0,1],[1,1],[1,0]]]")]
    [InlineData("within", "LineString", "[[8,40]]")]
    [InlineData("within", "Point", "%5B8%2C%5D")]
    [InlineData("within", "Point", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]")]
    public void Malformed_parameters_are_BadRequestData(string georel, string geometry, string coordinates)
    {
        var ex = Assert.Throws<NgsiLdException>(() => GeoQuery.Parse(georel, geometry, coordinates, null, LdContext.Core));

        Assert.Equal(ErrorType.BadRequestData, ex.Type);
        Assert.False(string.IsNullOrWhiteSpace(ex.Message));
    }

    [Fact]
    public void Single_equals_sign_detail_names_the_expected_form()
    {
        var ex = Assert.Throws<NgsiLdException>(() => GeoQuery.Parse("near;maxDistance=10", "Point", "[8,40]", null, LdContext.Core));

        Assert.Contains("maxDistance==N", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Empty_geoproperty_is_BadRequestData()
    {
        var ex = Assert.Throws<NgsiLdException>(() => GeoQuery.Parse("near;maxDistance==10", "Point", "[8,40]", " ", LdContext.Core));

        Assert.Equal(ErrorType.BadRequestData, ex.Type);
    }

    [Fact]
    public void Null_parameters_are_BadRequestData_not_NullReference()
    {
        Assert.Equal(ErrorType.BadRequestData, Assert.Throws<NgsiLdException>(() => GeoQuery.Parse(null!, "Point", "[8,40]", null, LdContext.Core)).Type);
        Assert.Equal(ErrorType.BadRequestData, Assert.Throws<NgsiLdException>(() => GeoQuery.Parse("within", null!, "[8,40]", null, LdContext.Core)).Type);
        Assert.Equal(ErrorType.BadRequestData, Assert.Throws<NgsiLdException>(() => GeoQuery.Parse("within", "Point", null!, null, LdContext.Core)).Type);
    }

    [Fact]
    public void GeoQ_with_array_coordinates_parses()
    {
        var geoQ = JsonNode.Parse("""{"geometry":"Point","coordinates":[108.227,16.061],"georel":"near;maxDistance==500","geoproperty":"location"}""")!.AsObject();

        var query = GeoQuery.FromGeoQ(geoQ, LdContext.Core);

        Assert.Equal(GeoRelation.Near, query.Relation);
        Assert.Equal(500, query.MaxDistance);
        Assert.Equal(Location, query.GeoProperty);
        Assert.Equal(new Coordinate(108.227, 16.061), query.Reference.Coordinate);
    }

    [Fact]
    public void GeoQ_with_string_coordinates_equals_the_array_form()
    {
        var fromString = GeoQuery.FromGeoQ(
            JsonNode.Parse("""{"geometry":"Polygon","coordinates":"[[[0,0],[0,1],[1,1],[1,0],[0,0]]]","georel":"within"}""")!.AsObject(),
            LdContext.Core);
        var fromArray = GeoQuery.FromGeoQ(
            JsonNode.Parse("""{"geometry":"Polygon","coordinates":[[[0,0],[0,1],[1,1],[1,0],[0,0]]],"georel":"within"}""")!.AsObject(),
            LdContext.Core);

        Assert.Equal(fromArray, fromString);
        Assert.Equal(fromArray.GetHashCode(), fromString.GetHashCode());
        Assert.Equal(Location, fromString.GeoProperty);
    }

    [Fact]
    public void GeoQ_array_coordinates_still_attached_to_the_body_are_read_without_error()
    {
        // The coordinates node has a parent (the geoQ object); reading must not try to re-parent it.
        var geoQ = JsonNode.Parse("""{"geometry":"Point","coordinates":[8,40],"georel":"near;minDistance==1"}""")!.AsObject();

        var query = GeoQuery.FromGeoQ(geoQ, LdContext.Core);

        Assert.Equal(1, query.MinDistance);
        Assert.NotNull(geoQ["coordinates"]);
    }

    [Theory]
    [InlineData("""{"coordinates":[8,40],"georel":"near;maxDistance==5"}""")]
    [InlineData("""{"geometry":"Point","georel":"near;maxDistance==5"}""")]
    [InlineData("""{"geometry":"Point","coordinates":[8,40]}""")]
    [InlineData("""{"geometry":5,"coordinates":[8,40],"georel":"near;maxDistance==5"}""")]
    [InlineData("""{"geometry":"Point","coordinates":{"x":8},"georel":"near;maxDistance==5"}""")]
    [InlineData("""{"geometry":"Point","coordinates":8,"georel":"near;maxDistance==5"}""")]
    [InlineData("""{"geometry":"Point","coordinates":"8,40","georel":"near;maxDistance==5"}""")]
    [InlineData("""{"geometry":"Point","coordinates":[8,40],"georel":["near"]}""")]
    [InlineData("""{"geometry":"Point","coordinates":[8,40],"georel":"near;maxDistance=5"}""")]
    [InlineData("""{"geometry":"Point","coordinates":[8,40],"georel":"near;maxDistance==5","geoproperty":7}""")]
    [InlineData("""{"geometry":"Point","coordinates":[8,40],"georel":"near;maxDistance==5","geoproperty":""}""")]
    [InlineData("""{"geometry":"Point","geometry":"Point","coordinates":[8,40],"georel":"near;maxDistance==5"}""")]
    public void Malformed_geoQ_is_BadRequestData(string json)
    {
        var ex = Assert.Throws<NgsiLdException>(() => GeoQuery.FromGeoQ(JsonNode.Parse(json)!.AsObject(), LdContext.Core));

        Assert.Equal(ErrorType.BadRequestData, ex.Type);
    }

    [Fact]
    public void SearchBox_for_near_contains_the_circle_and_is_not_much_larger()
    {
        // 1000 m around Ben Thanh market, Ho Chi Minh City (lat 10.77).
        var query = GeoQuery.Parse("near;maxDistance==1000", "Point", "[106.69804,10.77252]", null, LdContext.Core);

        var (minX, minY, maxX, maxY) = query.SearchBox!.Value;
        var dLat = 1000 / 111_195.0;                                  // metres per degree of latitude on the sphere
        var dLon = dLat / Math.Cos(10.77252 * Math.PI / 180);
        Assert.InRange(10.77252 - minY, dLat, dLat * 1.03);
        Assert.InRange(maxY - 10.77252, dLat, dLat * 1.03);
        Assert.InRange(106.69804 - minX, dLon, dLon * 1.03);
        Assert.InRange(maxX - 106.69804, dLon, dLon * 1.03);
    }

    [Fact]
    public void SearchBox_for_near_widens_longitude_with_latitude()
    {
        var equator = GeoQuery.Parse("near;maxDistance==5000", "Point", "[10,0]", null, LdContext.Core).SearchBox!.Value;
        var north = GeoQuery.Parse("near;maxDistance==5000", "Point", "[10,60]", null, LdContext.Core).SearchBox!.Value;

        Assert.InRange((north.MaxX - north.MinX) / (equator.MaxX - equator.MinX), 1.99, 2.01);
    }

    [Fact]
    public void SearchBox_covers_all_longitudes_when_the_circle_reaches_a_pole_or_the_antimeridian()
    {
        var pole = GeoQuery.Parse("near;maxDistance==20000", "Point", "[10,89.9]", null, LdContext.Core).SearchBox!.Value;
        var antimeridian = GeoQuery.Parse("near;maxDistance==20000", "Point", "[179.9,0]", null, LdContext.Core).SearchBox!.Value;

        Assert.Equal((-180.0, 180.0), (pole.MinX, pole.MaxX));
        Assert.Equal(90, pole.MaxY);
        Assert.Equal((-180.0, 180.0), (antimeridian.MinX, antimeridian.MaxX));
    }

    [Theory]
    [InlineData("within")]
    [InlineData("contains")]
    [InlineData("intersects")]
    [InlineData("equals")]
    [InlineData("overlaps")]
    public void SearchBox_for_topological_relations_is_the_reference_envelope(string georel)
    {
        var query = GeoQuery.Parse(georel, "Polygon", "[[[106.69,10.76],[106.71,10.76],[106.71,10.78],[106.69,10.78],[106.69,10.76]]]", null, LdContext.Core);

        Assert.Equal((106.69, 10.76, 106.71, 10.78), query.SearchBox);
    }

    [Theory]
    [InlineData("disjoint", "Polygon", "[[[0,0],[0,1],[1,1],[1,0],[0,0]]]")]
    [InlineData("near;minDistance==100", "Point", "[8,40]")]
    public void SearchBox_is_null_when_no_prefilter_is_possible(string georel, string geometry, string coordinates)
    {
        var query = GeoQuery.Parse(georel, geometry, coordinates, null, LdContext.Core);

        Assert.Null(query.SearchBox);
    }

    [Fact]
    public void SearchBox_for_min_and_max_distance_uses_the_max()
    {
        var both = GeoQuery.Parse("near;minDistance==100;maxDistance==1000", "Point", "[8,40]", null, LdContext.Core);
        var maxOnly = GeoQuery.Parse("near;maxDistance==1000", "Point", "[8,40]", null, LdContext.Core);

        Assert.Equal(maxOnly.SearchBox, both.SearchBox);
    }

    [Fact]
    public void Queries_differing_in_distance_are_not_equal()
    {
        var a = GeoQuery.Parse("near;maxDistance==1000", "Point", "[8,40]", null, LdContext.Core);
        var b = GeoQuery.Parse("near;maxDistance==1001", "Point", "[8,40]", null, LdContext.Core);

        Assert.NotEqual(a, b);
    }
}
