using System.Text.Json.Nodes;
using CityOS.NgsiLd.Geo;
using CityOS.NgsiLd.JsonLd;

namespace CityOS.NgsiLd.Tests.Geo;

/// <summary>
/// Relation semantics are target (the entity's geometry) versus reference (the query geometry).
/// Known distances were computed independently of the code under test (Vincenty on the WGS84 ellipsoid);
/// the broker measures on a sphere, which differs from the ellipsoid by under 0.6 %, so distance
/// thresholds are set 1 % either side of the ellipsoidal value.
/// Antimeridian-crossing geometries are out of scope and not tested.
/// </summary>
public sealed class GeoQueryMatchTests
{
    private const string Location = "https://uri.etsi.org/ngsi-ld/location";

    // District 1, Ho Chi Minh City.
    private const string District1 = "[[[106.69,10.76],[106.71,10.76],[106.71,10.78],[106.69,10.78],[106.69,10.76]]]";

    private const string BenThanh = "[106.69804,10.77252]";
    private const string NotreDame = """{"type":"Point","coordinates":[106.69898,10.77987]}""";
    private const double BenThanhToNotreDame = 819.48;             // metres, WGS84 geodesic
    private const string DragonBridge = "[108.22718,16.06119]";
    private const string DaNangCathedral = """{"type":"Point","coordinates":[108.22331,16.06668]}""";
    private const double DragonBridgeToCathedral = 735.22;
    private const string BenThanhPoint = """{"type":"Point","coordinates":[106.69804,10.77252]}""";
    private const double BenThanhToDragonBridge = 608_077.04;

    private static JsonObject Entity(params string[] geoJsonValues) => EntityWith(Location, geoJsonValues);

    private static JsonObject EntityWith(string attribute, params string[] geoJsonValues)
    {
        var instances = new JsonArray();
        for (var i = 0; i < geoJsonValues.Length; i++)
        {
            var instance = new JsonObject { ["type"] = "GeoProperty", ["value"] = JsonNode.Parse(geoJsonValues[i]) };
            if (i > 0)
            {
                instance["datasetId"] = $"urn:ngsi-ld:dataset:{i}";
            }

            instances.Add(instance);
        }

        // Round-trip through text so values are JsonElement-backed, as entities read from a store are.
        return JsonNode.Parse(new JsonObject
        {
            ["id"] = "urn:ngsi-ld:Bus:1",
            ["type"] = new JsonArray("https://uri.etsi.org/ngsi-ld/default-context/Bus"),
            [attribute] = instances,
        }.ToJsonString())!.AsObject();
    }

    private static GeoQuery Query(string georel, string geometry, string coordinates) =>
        GeoQuery.Parse(georel, geometry, coordinates, null, LdContext.Core);

    private static string Near(string bound, double metres) =>
        $"near;{bound}=={metres.ToString(System.Globalization.CultureInfo.InvariantCulture)}";

    // ---- within ------------------------------------------------------------------------------------

    [Theory]
    [InlineData("""{"type":"Point","coordinates":[106.70,10.77]}""", true)]
    [InlineData("""{"type":"Point","coordinates":[106.72,10.77]}""", false)]
    [InlineData("""{"type":"Point","coordinates":[106.69,10.77]}""", false)] // on the boundary only: not within (OGC)
    [InlineData("""{"type":"LineString","coordinates":[[106.695,10.765],[106.705,10.775]]}""", true)]
    [InlineData("""{"type":"LineString","coordinates":[[106.695,10.765],[106.715,10.775]]}""", false)]
    [InlineData("""{"type":"Polygon","coordinates":[[[106.695,10.765],[106.705,10.765],[106.705,10.775],[106.695,10.765]]]}""", true)]
    [InlineData("""{"type":"Polygon","coordinates":[[[106.68,10.75],[106.72,10.75],[106.72,10.79],[106.68,10.75]]]}""", false)]
    [InlineData("""{"type":"MultiPoint","coordinates":[[106.70,10.77],[106.705,10.775]]}""", true)]
    [InlineData("""{"type":"MultiPoint","coordinates":[[106.70,10.77],[106.80,10.775]]}""", false)]
    [InlineData("""{"type":"MultiLineString","coordinates":[[[106.695,10.765],[106.70,10.77]],[[106.70,10.775],[106.705,10.775]]]}""", true)]
    [InlineData("""{"type":"MultiPolygon","coordinates":[[[[106.695,10.765],[106.70,10.765],[106.70,10.77],[106.695,10.765]]],[[[106.80,10.77],[106.81,10.77],[106.81,10.78],[106.80,10.77]]]]}""", false)]
    public void Within_matches_targets_inside_the_reference_polygon(string target, bool expected)
    {
        Assert.Equal(expected, Query("within", "Polygon", District1).Matches(Entity(target)));
    }

    // ---- contains ----------------------------------------------------------------------------------

    [Theory]
    [InlineData("""{"type":"Polygon","coordinates":[[[106.69,10.76],[106.71,10.76],[106.71,10.78],[106.69,10.78],[106.69,10.76]]]}""", true)]
    [InlineData("""{"type":"Polygon","coordinates":[[[106.71,10.76],[106.72,10.76],[106.72,10.78],[106.71,10.76]]]}""", false)]
    [InlineData("""{"type":"LineString","coordinates":[[106.69,10.77],[106.71,10.77]]}""", true)]
    [InlineData("""{"type":"LineString","coordinates":[[106.69,10.771],[106.71,10.771]]}""", false)]
    [InlineData("""{"type":"Point","coordinates":[106.70,10.77]}""", true)]
    [InlineData("""{"type":"Point","coordinates":[106.70,10.771]}""", false)]
    [InlineData("""{"type":"MultiPolygon","coordinates":[[[[0,0],[0,1],[1,1],[0,0]]],[[[106.6,10.7],[106.8,10.7],[106.8,10.8],[106.6,10.8],[106.6,10.7]]]]}""", true)]
    [InlineData("""{"type":"MultiPoint","coordinates":[[106.70,10.77],[1,1]]}""", true)]
    public void Contains_matches_targets_that_contain_the_reference_point(string target, bool expected)
    {
        Assert.Equal(expected, Query("contains", "Point", "[106.70,10.77]").Matches(Entity(target)));
    }

    [Fact]
    public void Contains_is_not_within_the_reverse_direction()
    {
        // A small park inside District 1: within District 1, but it does not contain District 1.
        var park = """{"type":"Polygon","coordinates":[[[106.695,10.765],[106.705,10.765],[106.705,10.775],[106.695,10.765]]]}""";

        Assert.False(Query("contains", "Polygon", District1).Matches(Entity(park)));
        Assert.True(Query("within", "Polygon", District1).Matches(Entity(park)));
    }

    // ---- intersects / disjoint ---------------------------------------------------------------------

    [Theory]
    [InlineData("""{"type":"Polygon","coordinates":[[[106.695,10.765],[106.705,10.765],[106.705,10.775],[106.695,10.765]]]}""", true)]
    [InlineData("""{"type":"Polygon","coordinates":[[[106.80,10.77],[106.81,10.77],[106.81,10.78],[106.80,10.77]]]}""", false)]
    [InlineData("""{"type":"Point","coordinates":[106.70,10.77]}""", true)]
    [InlineData("""{"type":"Point","coordinates":[106.70,10.7701]}""", false)]
    [InlineData("""{"type":"LineString","coordinates":[[106.70,10.76],[106.70,10.78]]}""", true)]
    [InlineData("""{"type":"LineString","coordinates":[[106.70,10.771],[106.71,10.771]]}""", false)]
    [InlineData("""{"type":"MultiLineString","coordinates":[[[0,0],[1,1]],[[106.70,10.76],[106.70,10.78]]]}""", true)]
    [InlineData("""{"type":"MultiPoint","coordinates":[[0,0],[1,1]]}""", false)]
    public void Intersects_and_disjoint_are_complementary_for_a_road(string target, bool intersects)
    {
        const string road = "[[106.69,10.77],[106.71,10.77]]";
        var entity = Entity(target);

        Assert.Equal(intersects, Query("intersects", "LineString", road).Matches(entity));
        Assert.Equal(!intersects, Query("disjoint", "LineString", road).Matches(entity));
    }

    // ---- equals ------------------------------------------------------------------------------------

    [Theory]
    [InlineData("Point", "[106.70,10.77]", """{"type":"Point","coordinates":[106.70,10.77]}""", true)]
    [InlineData("Point", "[106.70,10.77]", """{"type":"Point","coordinates":[106.70,10.7700001]}""", false)]
    [InlineData("Point", "[106.70,10.77]", """{"type":"Point","coordinates":[106.70,10.77,25]}""", true)] // altitude ignored
    [InlineData("LineString", "[[0,0],[1,1]]", """{"type":"LineString","coordinates":[[1,1],[0,0]]}""", true)]
    [InlineData("LineString", "[[0,0],[1,1]]", """{"type":"LineString","coordinates":[[0,0],[1,1.5]]}""", false)]
    [InlineData("Polygon", District1, """{"type":"Polygon","coordinates":[[[106.71,10.76],[106.71,10.78],[106.69,10.78],[106.69,10.76],[106.71,10.76]]]}""", true)]
    [InlineData("Polygon", District1, """{"type":"Polygon","coordinates":[[[106.71,10.76],[106.71,10.78],[106.69,10.78],[106.71,10.76]]]}""", false)]
    [InlineData("MultiPoint", "[[0,0],[1,1]]", """{"type":"MultiPoint","coordinates":[[1,1],[0,0]]}""", true)]
    public void Equals_is_topological_equality(string geometry, string coordinates, string target, bool expected)
    {
        Assert.Equal(expected, Query("equals", geometry, coordinates).Matches(Entity(target)));
    }

    // ---- overlaps ----------------------------------------------------------------------------------

    [Theory]
    [InlineData("""{"type":"Polygon","coordinates":[[[106.70,10.77],[106.72,10.77],[106.72,10.79],[106.70,10.79],[106.70,10.77]]]}""", true)]
    [InlineData("""{"type":"Polygon","coordinates":[[[106.695,10.765],[106.705,10.765],[106.705,10.775],[106.695,10.765]]]}""", false)] // inside
    [InlineData("""{"type":"Polygon","coordinates":[[[106.80,10.77],[106.81,10.77],[106.81,10.78],[106.80,10.77]]]}""", false)] // apart
    [InlineData("""{"type":"MultiPolygon","coordinates":[[[[106.70,10.77],[106.72,10.77],[106.72,10.79],[106.70,10.79],[106.70,10.77]]]]}""", true)]
    [InlineData("""{"type":"LineString","coordinates":[[106.70,10.77],[106.72,10.77]]}""", false)] // different dimension
    public void Overlaps_needs_same_dimension_and_partial_overlap(string target, bool expected)
    {
        Assert.Equal(expected, Query("overlaps", "Polygon", District1).Matches(Entity(target)));
    }

    [Fact]
    public void Overlaps_matches_collinear_partially_shared_lines()
    {
        var query = Query("overlaps", "LineString", "[[106.69,10.77],[106.71,10.77]]");

        Assert.True(query.Matches(Entity("""{"type":"LineString","coordinates":[[106.70,10.77],[106.72,10.77]]}""")));
        Assert.False(query.Matches(Entity("""{"type":"LineString","coordinates":[[106.69,10.77],[106.71,10.77]]}""")));
    }

    // ---- near between points -----------------------------------------------------------------------

    [Fact]
    public void Near_maxDistance_between_two_Ho_Chi_Minh_City_landmarks()
    {
        var entity = Entity(NotreDame);

        Assert.True(Query(Near("maxDistance", BenThanhToNotreDame * 1.01), "Point", BenThanh).Matches(entity));
        Assert.False(Query(Near("maxDistance", BenThanhToNotreDame * 0.99), "Point", BenThanh).Matches(entity));
    }

    [Fact]
    public void Near_minDistance_between_two_Ho_Chi_Minh_City_landmarks()
    {
        var entity = Entity(NotreDame);

        Assert.True(Query(Near("minDistance", BenThanhToNotreDame * 0.99), "Point", BenThanh).Matches(entity));
        Assert.False(Query(Near("minDistance", BenThanhToNotreDame * 1.01), "Point", BenThanh).Matches(entity));
    }

    [Fact]
    public void Near_distances_in_Da_Nang()
    {
        var entity = Entity(DaNangCathedral);

        Assert.True(Query(Near("maxDistance", DragonBridgeToCathedral * 1.01), "Point", DragonBridge).Matches(entity));
        Assert.False(Query(Near("maxDistance", DragonBridgeToCathedral * 0.99), "Point", DragonBridge).Matches(entity));
    }

    [Fact]
    public void Near_over_hundreds_of_kilometres_stays_within_one_percent()
    {
        var entity = Entity(BenThanhPoint);

        Assert.True(Query(Near("maxDistance", BenThanhToDragonBridge * 1.01), "Point", DragonBridge).Matches(entity));
        Assert.False(Query(Near("maxDistance", BenThanhToDragonBridge * 0.99), "Point", DragonBridge).Matches(entity));
    }

    [Fact]
    public void Near_with_min_and_max_matches_the_ring_between()
    {
        var entity = Entity(NotreDame);

        Assert.True(Query("near;minDistance==500;maxDistance==1000", "Point", BenThanh).Matches(entity));
        Assert.False(Query("near;minDistance==900;maxDistance==1000", "Point", BenThanh).Matches(entity));
        Assert.False(Query("near;minDistance==100;maxDistance==500", "Point", BenThanh).Matches(entity));
    }

    [Fact]
    public void Near_matches_a_point_at_the_reference_itself_only_without_minDistance()
    {
        var entity = Entity(BenThanhPoint);

        Assert.True(Query("near;maxDistance==0.001", "Point", BenThanh).Matches(entity));
        Assert.False(Query("near;minDistance==0.001", "Point", BenThanh).Matches(entity));
    }

    // ---- near to other target geometries -----------------------------------------------------------

    [Fact]
    public void Near_measures_to_the_nearest_point_of_a_line_not_its_vertices()
    {
        // A street along latitude 10.78 from 106.69 to 106.71; its vertices are ~1.5 km from the reference,
        // its nearest point (106.70, 10.78) is 1106.13 m away.
        var street = Entity("""{"type":"LineString","coordinates":[[106.69,10.78],[106.71,10.78]]}""");

        Assert.True(Query(Near("maxDistance", 1106.13 * 1.01), "Point", "[106.70,10.77]").Matches(street));
        Assert.False(Query(Near("maxDistance", 1106.13 * 0.99), "Point", "[106.70,10.77]").Matches(street));
        Assert.True(Query(Near("minDistance", 1106.13 * 0.99), "Point", "[106.70,10.77]").Matches(street));
    }

    [Fact]
    public void Near_measures_to_the_nearest_edge_of_a_polygon()
    {
        // A block east of the reference whose west edge runs along longitude 106.71: 1093.71 m away.
        var block = Entity("""{"type":"Polygon","coordinates":[[[106.71,10.76],[106.72,10.76],[106.72,10.78],[106.71,10.78],[106.71,10.76]]]}""");

        Assert.True(Query(Near("maxDistance", 1093.71 * 1.01), "Point", "[106.70,10.77]").Matches(block));
        Assert.False(Query(Near("maxDistance", 1093.71 * 0.99), "Point", "[106.70,10.77]").Matches(block));
    }

    [Fact]
    public void Near_a_polygon_containing_the_reference_is_distance_zero()
    {
        var district = Entity($$"""{"type":"Polygon","coordinates":{{District1}}}""");

        Assert.True(Query("near;maxDistance==1", "Point", "[106.70,10.77]").Matches(district));
        Assert.False(Query("near;minDistance==1", "Point", "[106.70,10.77]").Matches(district));
    }

    [Fact]
    public void Near_multi_geometries_use_their_nearest_member()
    {
        var stops = Entity("""{"type":"MultiPoint","coordinates":[[108.22331,16.06668],[106.69898,10.77987]]}""");
        var routes = Entity("""{"type":"MultiLineString","coordinates":[[[0,0],[0,1]],[[106.69,10.78],[106.71,10.78]]]}""");
        var areas = Entity("""{"type":"MultiPolygon","coordinates":[[[[0,0],[0,1],[1,1],[0,0]]],[[[106.71,10.76],[106.72,10.76],[106.72,10.78],[106.71,10.78],[106.71,10.76]]]]}""");

        Assert.True(Query(Near("maxDistance", BenThanhToNotreDame * 1.01), "Point", BenThanh).Matches(stops));
        Assert.False(Query(Near("maxDistance", BenThanhToNotreDame * 0.99), "Point", BenThanh).Matches(stops));
        Assert.True(Query(Near("maxDistance", 1106.13 * 1.01), "Point", "[106.70,10.77]").Matches(routes));
        Assert.False(Query(Near("maxDistance", 1106.13 * 0.99), "Point", "[106.70,10.77]").Matches(routes));
        Assert.True(Query(Near("maxDistance", 1093.71 * 1.01), "Point", "[106.70,10.77]").Matches(areas));
        Assert.False(Query(Near("maxDistance", 1093.71 * 0.99), "Point", "[106.70,10.77]").Matches(areas));
    }

    [Fact]
    public void Near_matches_are_inside_the_search_box()
    {
        var query = Query("near;maxDistance==2000", "Point", BenThanh);
        var (minX, minY, maxX, maxY) = query.SearchBox!.Value;

        // Points just inside the circle in the four compass directions (bearing 0/90/180/270, 1995 m).
        foreach (var (lon, lat) in new[] { (106.69804, 10.79046), (106.71631, 10.77252), (106.69804, 10.75458), (106.67977, 10.77252) })
        {
            var entity = Entity($$"""{"type":"Point","coordinates":[{{lon.ToString(System.Globalization.CultureInfo.InvariantCulture)}},{{lat.ToString(System.Globalization.CultureInfo.InvariantCulture)}}]}""");
            Assert.True(query.Matches(entity));
            Assert.InRange(lon, minX, maxX);
            Assert.InRange(lat, minY, maxY);
        }
    }

    // ---- attribute handling ------------------------------------------------------------------------

    [Fact]
    public void Entities_without_the_geoproperty_never_match_even_disjoint()
    {
        var entity = EntityWith("https://uri.etsi.org/ngsi-ld/default-context/route", """{"type":"Point","coordinates":[0,0]}""");

        Assert.False(Query("disjoint", "Polygon", District1).Matches(entity));
        Assert.False(Query("near;minDistance==1", "Point", BenThanh).Matches(entity));
    }

    [Fact]
    public void Any_matching_instance_of_a_multi_instance_attribute_is_enough()
    {
        var entity = Entity("""{"type":"Point","coordinates":[0,0]}""", """{"type":"Point","coordinates":[106.70,10.77]}""");

        Assert.True(Query("within", "Polygon", District1).Matches(entity));
        Assert.True(Query("disjoint", "Polygon", District1).Matches(entity));
    }

    [Fact]
    public void The_geoproperty_parameter_selects_the_attribute()
    {
        var entity = EntityWith("https://uri.etsi.org/ngsi-ld/default-context/route", """{"type":"LineString","coordinates":[[106.695,10.765],[106.705,10.775]]}""");

        Assert.True(GeoQuery.Parse("within", "Polygon", District1, "route", LdContext.Core).Matches(entity));
        Assert.False(GeoQuery.Parse("within", "Polygon", District1, null, LdContext.Core).Matches(entity));
    }

    [Fact]
    public void Instances_that_are_not_GeoProperties_are_skipped()
    {
        var entity = JsonNode.Parse($$$"""
            {"id":"urn:ngsi-ld:Bus:1","type":["https://uri.etsi.org/ngsi-ld/default-context/Bus"],
             "{{{Location}}}":[{"type":"Property","value":{"type":"Point","coordinates":[106.70,10.77]}}]}
            """)!.AsObject();

        Assert.False(Query("within", "Polygon", District1).Matches(entity));
    }

    [Theory]
    [InlineData("\"not geo\"")]
    [InlineData("""{"type":"Point","coordinates":[500,10]}""")]
    [InlineData("""{"type":"GeometryCollection","geometries":[]}""")]
    [InlineData("null")]
    [InlineData("[1,2]")]
    public void Stored_garbage_values_are_non_matches_not_errors(string value)
    {
        var entity = Entity(value);

        Assert.False(Query("within", "Polygon", District1).Matches(entity));
        Assert.False(Query("disjoint", "Polygon", District1).Matches(entity));
        Assert.False(Query("near;minDistance==1", "Point", BenThanh).Matches(entity));
    }

    [Fact]
    public void Attribute_not_an_array_or_object_is_a_non_match()
    {
        var entity = new JsonObject { ["id"] = "urn:x", [Location] = 5 };

        Assert.False(Query("intersects", "Polygon", District1).Matches(entity));
    }

    [Fact]
    public void Values_built_in_code_match_like_parsed_values()
    {
        var entity = new JsonObject
        {
            ["id"] = "urn:ngsi-ld:Bus:1",
            [Location] = new JsonArray(new JsonObject
            {
                ["type"] = "GeoProperty",
                ["value"] = new JsonObject { ["type"] = "Point", ["coordinates"] = new JsonArray(106.70, 10.77) },
            }),
        };

        Assert.True(Query("within", "Polygon", District1).Matches(entity));
        Assert.True(Query("near;maxDistance==10", "Point", "[106.70,10.77]").Matches(entity));
    }

    [Fact]
    public void Self_intersecting_geometries_are_evaluated_without_throwing()
    {
        // A bow-tie: valid GeoJSON, invalid OGC polygon, as reference and as target.
        const string bowTie = "[[[106.69,10.76],[106.71,10.78],[106.71,10.76],[106.69,10.78],[106.69,10.76]]]";
        var target = Entity($$"""{"type":"Polygon","coordinates":{{bowTie}}}""");

        foreach (var georel in new[] { "within", "contains", "intersects", "equals", "disjoint", "overlaps" })
        {
            _ = Query(georel, "Polygon", bowTie).Matches(target);
            _ = Query(georel, "Polygon", District1).Matches(target);
        }

        Assert.True(Query("intersects", "Polygon", bowTie).Matches(Entity("""{"type":"Point","coordinates":[106.70,10.77]}""")));
    }

    [Fact]
    public void One_query_evaluated_from_many_threads_gives_the_sequential_answers()
    {
        var entities = new JsonObject[400];
        for (var i = 0; i < entities.Length; i++)
        {
            var lon = 106.68 + (i % 20 * 0.002);
            var lat = 10.75 + (i / 20 * 0.002);
            var ring = new JsonArray(new JsonArray(lon, lat), new JsonArray(lon + 0.0005, lat), new JsonArray(lon + 0.0005, lat + 0.0005), new JsonArray(lon, lat));
            entities[i] = Entity(new JsonObject { ["type"] = "Polygon", ["coordinates"] = new JsonArray(ring) }.ToJsonString());
        }

        // A fresh query, so the prepared reference builds its lazy indexes under contention.
        var sequential = entities.Select(Query("within", "Polygon", District1).Matches).ToArray();
        var query = Query("within", "Polygon", District1);
        var parallel = new bool[entities.Length];
        Parallel.For(0, entities.Length * 10, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => parallel[i % entities.Length] = query.Matches(entities[i % entities.Length]));

        Assert.Equal(sequential, parallel);
        Assert.Contains(true, sequential);
        Assert.Contains(false, sequential);
    }

    [Theory]
    [InlineData("""{"type":"Point","type":"Point","coordinates":[106.70,10.77]}""")]
    [InlineData("""{"type":"Polygon","coordinates":[[[106.695,10.765],[106.705,10.765],[106.705,10.775],[106.695,10.765]]],"coordinates":[]}""")]
    public void Stored_values_with_repeated_members_are_non_matches_not_errors(string value)
    {
        var entity = Entity(value);

        Assert.False(Query("within", "Polygon", District1).Matches(entity));
        Assert.False(Query("near;maxDistance==100000", "Point", BenThanh).Matches(entity));
    }

    [Fact]
    public void Instances_with_repeated_members_are_non_matches_not_errors()
    {
        var entity = JsonNode.Parse($$$"""
            {"id":"urn:ngsi-ld:Bus:1",
             "{{{Location}}}":[{"type":"GeoProperty","type":"GeoProperty","value":{"type":"Point","coordinates":[106.70,10.77]}}]}
            """)!.AsObject();

        Assert.False(Query("within", "Polygon", District1).Matches(entity));
    }
}
