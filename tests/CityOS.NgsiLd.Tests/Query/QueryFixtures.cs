using System.Text.Json.Nodes;
using CityOS.NgsiLd.Errors;
using CityOS.NgsiLd.JsonLd;
using CityOS.NgsiLd.Query;

namespace CityOS.NgsiLd.Tests.Query;

/// <summary>Entities in the internal (expanded) form shared by the q tests.</summary>
internal static class QueryFixtures
{
    public const string D = "https://uri.etsi.org/ngsi-ld/default-context/";

    private const string VehicleJson = """
    {
      "id": "urn:ngsi-ld:Vehicle:A1",
      "type": ["https://uri.etsi.org/ngsi-ld/default-context/Vehicle"],
      "createdAt": "2026-11-23T10:00:00.000000Z",
      "https://uri.etsi.org/ngsi-ld/default-context/speed": [{
        "type": "Property", "value": 55, "unitCode": "KMH", "observedAt": "2026-11-23T09:59:00Z",
        "createdAt": "2026-11-23T10:00:00.000000Z",
        "https://uri.etsi.org/ngsi-ld/default-context/accuracy": [{ "type": "Property", "value": 0.9 }]
      }],
      "https://uri.etsi.org/ngsi-ld/default-context/brand": [{ "type": "Property", "value": "Mercedes" }],
      "https://uri.etsi.org/ngsi-ld/default-context/electric": [{ "type": "Property", "value": false }],
      "https://uri.etsi.org/ngsi-ld/default-context/tags": [{ "type": "Property", "value": ["red", "fast"] }],
      "https://uri.etsi.org/ngsi-ld/default-context/address": [{
        "type": "Property",
        "value": { "city": "Berlin", "street": { "name": "Unter den Linden", "number": 5 } }
      }],
      "https://uri.etsi.org/ngsi-ld/default-context/owner": [{ "type": "Relationship", "object": "urn:ngsi-ld:Person:1" }],
      "https://uri.etsi.org/ngsi-ld/default-context/passengers": [{
        "type": "Relationship", "object": ["urn:ngsi-ld:Person:2", "urn:ngsi-ld:Person:3"]
      }],
      "https://uri.etsi.org/ngsi-ld/default-context/stops": [{
        "type": "ListRelationship",
        "objectList": [{ "object": "urn:ngsi-ld:Stop:1" }, { "object": "urn:ngsi-ld:Stop:2" }]
      }],
      "https://uri.etsi.org/ngsi-ld/default-context/name": [{
        "type": "LanguageProperty", "languageMap": { "en": "Bus", "fr": "Autobus", "de": ["Bus", "Omnibus"] }
      }],
      "https://uri.etsi.org/ngsi-ld/default-context/category": [{
        "type": "VocabProperty",
        "vocab": ["https://uri.etsi.org/ngsi-ld/default-context/commercial", "https://uri.etsi.org/ngsi-ld/default-context/public"]
      }],
      "https://uri.etsi.org/ngsi-ld/default-context/fuel": [{
        "type": "VocabProperty", "vocab": "https://uri.etsi.org/ngsi-ld/default-context/diesel"
      }],
      "https://uri.etsi.org/ngsi-ld/default-context/rawdata": [{
        "type": "JsonProperty", "json": { "airquality": { "particulate": 40 }, "label": "x" }
      }],
      "https://uri.etsi.org/ngsi-ld/default-context/readings": [{ "type": "ListProperty", "valueList": [1, 2, 3] }],
      "https://uri.etsi.org/ngsi-ld/default-context/temperature": [
        { "type": "Property", "value": 20, "datasetId": "urn:ngsi-ld:dataset:a" },
        { "type": "Property", "value": 30, "datasetId": "urn:ngsi-ld:dataset:b" }
      ],
      "https://uri.etsi.org/ngsi-ld/default-context/installed": [{ "type": "Property", "value": "2020-01-15" }],
      "https://uri.etsi.org/ngsi-ld/default-context/opensAt": [{ "type": "Property", "value": "08:30:00Z" }],
      "https://uri.etsi.org/ngsi-ld/default-context/lastService": [{ "type": "Property", "value": "2026-11-01T10:00:00Z" }],
      "https://uri.etsi.org/ngsi-ld/default-context/note": [{ "type": "Property", "value": "a;b|c \"quoted\"" }],
      "https://uri.etsi.org/ngsi-ld/location": [{
        "type": "GeoProperty", "value": { "type": "Point", "coordinates": [8, 40] }
      }]
    }
    """;

    /// <summary>A fresh vehicle parsed from JSON (values are JsonElement-backed).</summary>
    public static JsonObject Vehicle() => JsonNode.Parse(VehicleJson)!.AsObject();

    /// <summary>True when the vehicle matches q.</summary>
    public static bool Matches(string q) => Parse(q).Matches(Vehicle());

    public static QExpression Parse(string q) => QParser.Parse(q, LdContext.Core);

    /// <summary>Asserts that q is rejected with BadRequestData and returns the detail.</summary>
    public static string Rejects(string q)
    {
        var e = Assert.Throws<NgsiLdException>(() => Parse(q));
        Assert.Equal(ErrorType.BadRequestData, e.Type);
        return e.Message;
    }
}
