using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using BenchmarkDotNet.Attributes;
using CityOS.NgsiLd.Geo;
using CityOS.NgsiLd.JsonLd;
using NetTopologySuite.Geometries;
using NetTopologySuite.IO.Converters;

namespace CityOS.Benchmarks;

/// <summary>
/// Geo-query evaluation over stored entities: the per-entity cost a store pays after its R-tree prefilter.
/// Run: <c>dotnet run -c Release --project bench/CityOS.Benchmarks -- --filter *GeoBenchmarks*</c>
/// </summary>
[MemoryDiagnoser]
public class GeoBenchmarks
{
    private const string Location = "https://uri.etsi.org/ngsi-ld/location";
    private const int EntityCount = 4000;

    private static readonly JsonSerializerOptions GeoJsonOptions = new() { Converters = { new GeoJsonConverterFactory() } };

    private JsonObject[] _points = [];
    private JsonObject[] _polygons = [];
    private GeoQuery _near = null!;
    private GeoQuery _within = null!;
    private JsonNode _polygonValue = null!;

    [GlobalSetup]
    public void Setup()
    {
        // Fixed seed: every run evaluates the same city-sized cloud of points around Ho Chi Minh City.
        var random = new Random(42);
        _points = new JsonObject[EntityCount];
        _polygons = new JsonObject[EntityCount / 4];
        for (var i = 0; i < _points.Length; i++)
        {
            var lon = 106.6 + (random.NextDouble() * 0.2);
            var lat = 10.7 + (random.NextDouble() * 0.2);
            _points[i] = Entity(i, $"{{\"type\":\"Point\",\"coordinates\":[{F(lon)},{F(lat)}]}}");
        }

        for (var i = 0; i < _polygons.Length; i++)
        {
            var lon = 106.6 + (random.NextDouble() * 0.2);
            var lat = 10.7 + (random.NextDouble() * 0.2);
            _polygons[i] = Entity(i, $"{{\"type\":\"Polygon\",\"coordinates\":[[[{F(lon)},{F(lat)}],[{F(lon + 0.001)},{F(lat)}],[{F(lon + 0.001)},{F(lat + 0.001)}],[{F(lon)},{F(lat + 0.001)}],[{F(lon)},{F(lat)}]]]}}");
        }

        _near = GeoQuery.Parse("near;maxDistance==2000", "Point", "[106.70,10.80]", null, LdContext.Core);
        _within = GeoQuery.Parse(
            "within",
            "Polygon",
            "[[[106.65,10.75],[106.75,10.74],[106.76,10.85],[106.70,10.88],[106.64,10.84],[106.65,10.75]]]",
            null,
            LdContext.Core);
        _polygonValue = _polygons[0][Location]![0]!["value"]!;
    }

    [Benchmark]
    public int Near_points() => Count(_near, _points);

    [Benchmark]
    public int Within_points() => Count(_within, _points);

    [Benchmark]
    public int Near_polygons() => Count(_near, _polygons);

    [Benchmark]
    public int Within_polygons() => Count(_within, _polygons);

    /// <summary>Direct JsonNode → NTS read, as the evaluator does.</summary>
    [Benchmark]
    public Geometry Polygon_from_JsonNode() => GeoJson.ToGeometry(_polygonValue);

    /// <summary>The alternative the evaluator avoids: serialise the node and parse it with GeoJSON4STJ.</summary>
    [Benchmark]
    public Geometry? Polygon_via_text_round_trip() =>
        JsonSerializer.Deserialize<Geometry>(_polygonValue.ToJsonString(), GeoJsonOptions);

    private static int Count(GeoQuery query, JsonObject[] entities)
    {
        var matches = 0;
        foreach (var entity in entities)
        {
            if (query.Matches(entity))
            {
                matches++;
            }
        }

        return matches;
    }

    // Parsed from text so that values are JsonElement-backed, as entities read from a store are.
    private static JsonObject Entity(int i, string geoJson) =>
        JsonNode.Parse($"{{\"id\":\"urn:ngsi-ld:Bus:{i}\",\"type\":[\"https://uri.etsi.org/ngsi-ld/default-context/Bus\"],\"{Location}\":[{{\"type\":\"GeoProperty\",\"value\":{geoJson}}}]}}")!.AsObject();

    private static string F(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
