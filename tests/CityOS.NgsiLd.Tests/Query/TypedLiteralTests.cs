using System.Text.Json.Nodes;
using CityOS.NgsiLd.JsonLd;
using CityOS.NgsiLd.Query;

namespace CityOS.NgsiLd.Tests.Query;

/// <summary>Regression: q never matched temporal values stored as JSON-LD typed literals ({"@type": "DateTime", "@value": …}).</summary>
public sealed class TypedLiteralTests
{
    private const string V = "https://uri.etsi.org/ngsi-ld/default-context/";

    private static JsonObject Entity(string value) => JsonNode.Parse($$"""
        {"id": "urn:ngsi-ld:T:1", "type": ["{{V}}T"],
         "{{V}}seen": [{"type": "Property", "value": {{value}}}]}
        """)!.AsObject();

    [Theory]
    [InlineData("""{"@type": "DateTime", "@value": "2026-03-01T00:00:00Z"}""", "seen>2026-01-01T00:00:00Z", true)]
    [InlineData("""{"@type": "DateTime", "@value": "2026-03-01T00:00:00Z"}""", "seen<2026-01-01T00:00:00Z", false)]
    [InlineData("""{"@type": "DateTime", "@value": "2026-03-01T00:00:00Z"}""", "seen==2026-03-01T00:00:00Z", true)]
    [InlineData("""{"@type": "Date", "@value": "2026-03-01"}""", "seen>=2026-03-01", true)]
    [InlineData("""{"@type": "Time", "@value": "12:00:00Z"}""", "seen<13:00:00Z", true)]
    [InlineData("""{"@type": "DateTime", "@value": "2026-03-01T00:00:00Z"}""", "seen~=\"^2026\"", true)]
    [InlineData("""{"@type": "DateTime", "@value": "2026-03-01T00:00:00Z", "extra": 1}""", "seen>2026-01-01T00:00:00Z", false)]
    public void Typed_literals_compare_by_their_value(string value, string q, bool expected) =>
        Assert.Equal(expected, QParser.Parse(q, LdContext.Core).Matches(Entity(value)));
}
