using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
using CityOS.Server.Bench;

namespace CityOS.Server.Tests.Bench;

public sealed class EntityPayloadsTests
{
    [Fact]
    public void Single_entity_template_rewrites_only_the_id()
    {
        var template = IdSlotTemplate.Create("urn:ngsi-ld:AirQualityObserved:bench-x-c", 1, asArray: false, EntityPayloads.WriteAirQuality);
        var buffer = template.CreateBuffer();
        template.Fill(buffer, 42);
        var first = JsonNode.Parse(buffer)!.AsObject();
        template.Fill(buffer, 123_456_789_012);
        var second = JsonNode.Parse(buffer)!.AsObject();

        Assert.Equal("urn:ngsi-ld:AirQualityObserved:bench-x-c000000000042", (string?)first["id"]);
        Assert.Equal("urn:ngsi-ld:AirQualityObserved:bench-x-c123456789012", (string?)second["id"]);
        second["id"] = first["id"]!.DeepClone();
        Assert.True(JsonNode.DeepEquals(first, second));
    }

    [Fact]
    public void Small_entity_is_normalized_with_three_to_five_attributes()
    {
        var template = IdSlotTemplate.Create("urn:ngsi-ld:AirQualityObserved:t", 1, asArray: false, EntityPayloads.WriteAirQuality);
        var buffer = template.CreateBuffer();
        template.Fill(buffer, 1);
        var entity = JsonNode.Parse(buffer)!.AsObject();

        Assert.Equal("AirQualityObserved", (string?)entity["type"]);
        var attributes = entity.Where(p => p.Key is not ("id" or "type")).ToList();
        Assert.InRange(attributes.Count, 3, 5);
        Assert.All(attributes, a => Assert.Contains((string?)a.Value!["type"], new[] { "Property", "GeoProperty" }));
        Assert.Equal("Point", (string?)entity["location"]!["value"]!["type"]);
        Assert.Null(entity["@context"]);
    }

    [Fact]
    public void Batch_template_holds_distinct_consecutive_ids()
    {
        var template = IdSlotTemplate.Create("urn:ngsi-ld:AirQualityObserved:b", 1000, asArray: true, EntityPayloads.WriteAirQuality);
        var buffer = template.CreateBuffer();
        template.Fill(buffer, 5000);
        var ids = JsonNode.Parse(buffer)!.AsArray().Select(e => (string)e!["id"]!).ToList();

        Assert.Equal(1000, template.IdCount);
        Assert.Equal(1000, ids.Distinct().Count());
        Assert.Equal("urn:ngsi-ld:AirQualityObserved:b000000005000", ids[0]);
        Assert.Equal("urn:ngsi-ld:AirQualityObserved:b000000005999", ids[^1]);
    }

    [Fact]
    public void Fill_refuses_numbers_wider_than_the_slot()
    {
        var template = IdSlotTemplate.Create("urn:x:", 1, asArray: false, EntityPayloads.WriteNoiseLevel);
        Assert.Throws<ArgumentOutOfRangeException>(() => template.Fill(template.CreateBuffer(), 1_000_000_000_000));
    }

    [Fact]
    public void Weather_values_are_a_pure_function_of_the_number()
    {
        Assert.Equal(EntityPayloads.WeatherValues(12_345), EntityPayloads.WeatherValues(12_345));
        Assert.NotEqual(EntityPayloads.WeatherValues(12_345), EntityPayloads.WeatherValues(12_346));
    }

    [Fact]
    public void Weather_dataset_spreads_over_both_cities_with_a_filterable_temperature()
    {
        var values = Enumerable.Range(0, 10_000).Select(n => (N: n, V: EntityPayloads.WeatherValues(n))).ToList();

        Assert.All(values, x => Assert.InRange(x.V.Temperature, 10, 40));
        Assert.All(values, x => Assert.InRange(x.V.Humidity, 0, 1));
        Assert.All(values.Where(x => x.N % 2 == 0), x => Assert.True(GeoBox.BinhDuong.Contains(x.V.Lon, x.V.Lat)));
        Assert.All(values.Where(x => x.N % 2 == 1), x => Assert.True(GeoBox.DaNang.Contains(x.V.Lon, x.V.Lat)));
        var warm = values.Count(x => x.V.Temperature > 20) / (double)values.Count;
        Assert.InRange(warm, 0.62, 0.71);
    }

    [Fact]
    public void Weather_batch_is_an_array_of_normalized_entities_with_the_generated_values()
    {
        var buffer = new ArrayBufferWriter<byte>();
        EntityPayloads.WriteWeatherBatch(buffer, "urn:ngsi-ld:WeatherObserved:bench-", 100, 3);
        var batch = JsonNode.Parse(buffer.WrittenSpan)!.AsArray();

        Assert.Equal(3, batch.Count);
        var second = batch[1]!;
        var expected = EntityPayloads.WeatherValues(101);
        Assert.Equal("urn:ngsi-ld:WeatherObserved:bench-000000000101", (string?)second["id"]);
        Assert.Equal("WeatherObserved", (string?)second["type"]);
        Assert.Equal(expected.Temperature, (double)second["temperature"]!["value"]!);
        Assert.Equal("CEL", (string?)second["temperature"]!["unitCode"]);
        Assert.Equal(expected.Humidity, (double)second["relativeHumidity"]!["value"]!);
        Assert.Equal(expected.Lon, (double)second["location"]!["value"]!["coordinates"]![0]!);
        Assert.Equal(expected.Lat, (double)second["location"]!["value"]!["coordinates"]![1]!);
    }

    [Fact]
    public void Partial_update_body_is_a_property_fragment()
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            EntityPayloads.WritePartialUpdate(writer, 12.5);
        }

        var fragment = JsonNode.Parse(buffer.WrittenSpan)!.AsObject();
        Assert.Equal("Property", (string?)fragment["type"]);
        Assert.Equal(12.5, (double)fragment["value"]!);
        Assert.Equal(2, fragment.Count);
    }

    [Fact]
    public void Geo_reference_points_are_percent_encoded_and_inside_the_cities()
    {
        var uris = BenchRunner.GeoQueryUris("http://127.0.0.1:1026", 64);

        Assert.Equal(64, uris.Length);
        foreach (var uri in uris)
        {
            var query = uri.Query;
            Assert.Contains("georel=near%3BmaxDistance%3D%3D2000", query, StringComparison.Ordinal);
            Assert.Contains("geometry=Point", query, StringComparison.Ordinal);
            Assert.Contains("&limit=100", query, StringComparison.Ordinal);
            var coordinates = Uri.UnescapeDataString(query[(query.IndexOf("coordinates=", StringComparison.Ordinal) + 12)..].Split('&')[0]);
            var point = JsonSerializer.Deserialize<double[]>(coordinates)!;
            Assert.True(GeoBox.BinhDuong.Contains(point[0], point[1]) || GeoBox.DaNang.Contains(point[0], point[1]), coordinates);
        }

        Assert.Equal(uris.Length, uris.Select(u => u.Query).Distinct().Count());
    }
}
