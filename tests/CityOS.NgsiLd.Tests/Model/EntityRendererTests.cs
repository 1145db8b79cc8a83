using System.Text.Json.Nodes;
using CityOS.NgsiLd.Model;
using static CityOS.NgsiLd.Tests.Model.ModelTestData;

namespace CityOS.NgsiLd.Tests.Model;

public sealed class EntityRendererTests
{
    private const string Loc = "https://uri.etsi.org/ngsi-ld/location";

    // Internal form built by hand so GeoProperties do not depend on the geometry validator.
    private static JsonObject Stored() => J($$$$"""
        {
          "id": "urn:ngsi-ld:Car:1",
          "type": ["{{{{Vocab}}}}Car"],
          "scope": ["/A/B"],
          "createdAt": "2026-01-01T00:00:00.000000Z",
          "modifiedAt": "2026-01-02T00:00:00.000000Z",
          "{{{{Vocab}}}}speed": [
            {"type":"Property","value":55,"unitCode":"KMH","createdAt":"2026-01-01T00:00:00.000000Z","modifiedAt":"2026-01-02T00:00:00.000000Z",
             "{{{{Vocab}}}}accuracy":[{"type":"Property","value":0.9,"createdAt":"2026-01-01T00:00:00.000000Z","modifiedAt":"2026-01-01T00:00:00.000000Z"}]},
            {"type":"Property","value":60,"datasetId":"urn:ds:gps","createdAt":"2026-01-01T00:00:00.000000Z","modifiedAt":"2026-01-01T00:00:00.000000Z"}
          ],
          "{{{{Vocab}}}}owner": [{"type":"Relationship","object":"urn:p:1","objectType":"{{{{Vocab}}}}Person"}],
          "{{{{Loc}}}}": [{"type":"GeoProperty","value":{"type":"Point","coordinates":[8.5,40.1]}}],
          "{{{{Vocab}}}}name": [{"type":"LanguageProperty","languageMap":{"en":"Car","fr":"Voiture","fr-CH":"Auto","@none":"C"}}],
          "{{{{Vocab}}}}category": [{"type":"VocabProperty","vocab":["{{{{Vocab}}}}Sedan","http://other/Electric"]}],
          "{{{{Vocab}}}}config": [{"type":"JsonProperty","json":{"{{{{Vocab}}}}raw":1}}],
          "{{{{Vocab}}}}readings": [{"type":"ListProperty","valueList":[1,2]}],
          "{{{{Vocab}}}}route": [{"type":"ListRelationship","objectList":[{"object":"urn:s:1"},{"object":"urn:s:2"}]}],
          "{{{{Vocab}}}}address": [{"type":"Property","value":{"city":"X"}}],
          "{{{{Vocab}}}}shape": [{"type":"Property","value":{"type":"Point","coordinates":[1,2]}}]
        }
        """);

    private static JsonObject Render(RenderOptions options) => EntityRenderer.Render(Stored(), Ctx, options);

    [Fact]
    public void Normalized_output_compacts_names_and_unwraps_single_instances()
    {
        var o = Render(RenderOptions.Default);
        Assert.Equal("Car", (string?)o["type"]);
        Assert.Equal("/A/B", (string?)o["scope"]);
        Assert.False(o.ContainsKey("createdAt"));
        AssertJson("""[{"type":"Property","value":55,"unitCode":"KMH","accuracy":{"type":"Property","value":0.9}},{"type":"Property","value":60,"datasetId":"urn:ds:gps"}]""", o["speed"]);
        AssertJson("""{"type":"Relationship","object":"urn:p:1","objectType":"Person"}""", o["owner"]);
        AssertJson("""{"type":"GeoProperty","value":{"type":"Point","coordinates":[8.5,40.1]}}""", o["location"]);
        AssertJson("""{"type":"VocabProperty","vocab":["Sedan","http://other/Electric"]}""", o["category"]);
        AssertJson($$$$"""{"type":"JsonProperty","json":{"{{{{Vocab}}}}raw":1}}""", o["config"]);
        AssertJson("""{"type":"ListRelationship","objectList":[{"object":"urn:s:1"},{"object":"urn:s:2"}]}""", o["route"]);
    }

    [Fact]
    public void Several_types_render_as_an_array_and_several_scopes_too()
    {
        var e = Stored();
        e["type"] = new JsonArray(Vocab + "Car", "http://x/Vehicle");
        e["scope"] = new JsonArray("/a", "/b");
        var o = EntityRenderer.Render(e, Ctx, RenderOptions.Default);
        AssertJson("""["Car","http://x/Vehicle"]""", o["type"]);
        AssertJson("""["/a","/b"]""", o["scope"]);
    }

    [Fact]
    public void Sys_attrs_adds_timestamps_on_entity_attributes_and_sub_attributes()
    {
        var o = Render(new RenderOptions { SysAttrs = true });
        Assert.Equal("2026-01-01T00:00:00.000000Z", (string?)o["createdAt"]);
        Assert.Equal("2026-01-02T00:00:00.000000Z", (string?)o["modifiedAt"]);
        Assert.Equal("2026-01-02T00:00:00.000000Z", (string?)o["speed"]![0]!["modifiedAt"]);
        Assert.Equal("2026-01-01T00:00:00.000000Z", (string?)o["speed"]![0]!["accuracy"]!["createdAt"]);
    }

    [Fact]
    public void Concise_output_drops_inferable_types_and_bares_simple_values()
    {
        var o = Render(new RenderOptions { Representation = Representation.Concise });
        AssertJson("""[{"value":55,"unitCode":"KMH","accuracy":0.9},{"value":60,"datasetId":"urn:ds:gps"}]""", o["speed"]);
        AssertJson("""{"object":"urn:p:1","objectType":"Person"}""", o["owner"]);
        AssertJson("""{"type":"Point","coordinates":[8.5,40.1]}""", o["location"]);
        AssertJson("""{"languageMap":{"en":"Car","fr":"Voiture","fr-CH":"Auto","@none":"C"}}""", o["name"]);
        AssertJson("""{"vocab":["Sedan","http://other/Electric"]}""", o["category"]);
        AssertJson("""{"valueList":[1,2]}""", o["readings"]);
        AssertJson("""{"value":{"city":"X"}}""", o["address"]);
        // A Property holding a geometry keeps its type, or it would read back as a GeoProperty.
        AssertJson("""{"type":"Property","value":{"type":"Point","coordinates":[1,2]}}""", o["shape"]);
    }

    [Fact]
    public void Key_values_output_is_simplified_and_splits_datasets()
    {
        var o = Render(new RenderOptions { Representation = Representation.KeyValues });
        AssertJson("""{"dataset":{"@none":55,"urn:ds:gps":60}}""", o["speed"]);
        Assert.Equal("urn:p:1", (string?)o["owner"]);
        AssertJson("""{"type":"Point","coordinates":[8.5,40.1]}""", o["location"]);
        AssertJson("""{"languageMap":{"en":"Car","fr":"Voiture","fr-CH":"Auto","@none":"C"}}""", o["name"]);
        AssertJson("""{"vocab":["Sedan","http://other/Electric"]}""", o["category"]);
        AssertJson($$$$"""{"json":{"{{{{Vocab}}}}raw":1}}""", o["config"]);
        AssertJson("""[1,2]""", o["readings"]);
        AssertJson("""["urn:s:1","urn:s:2"]""", o["route"]);
    }

    [Fact]
    public void Pick_and_omit_select_members_by_expanded_name()
    {
        var picked = Render(new RenderOptions { Pick = new HashSet<string> { "id", Vocab + "owner" } });
        Assert.Equal(["id", "owner"], picked.Select(p => p.Key));
        var omitted = Render(new RenderOptions { Omit = new HashSet<string> { "type", "scope", Vocab + "speed" } });
        Assert.False(omitted.ContainsKey("type"));
        Assert.False(omitted.ContainsKey("scope"));
        Assert.False(omitted.ContainsKey("speed"));
        Assert.True(omitted.ContainsKey("owner"));
    }

    [Fact]
    public void Dataset_filter_keeps_matching_instances_and_omits_emptied_attributes()
    {
        var o = Render(new RenderOptions { DatasetIds = new HashSet<string> { "urn:ds:gps" } });
        AssertJson("""{"type":"Property","value":60,"datasetId":"urn:ds:gps"}""", o["speed"]);
        Assert.False(o.ContainsKey("owner"));
        var none = Render(new RenderOptions { DatasetIds = new HashSet<string> { "@none" } });
        Assert.Equal(55, (int?)none["speed"]!["value"]);
    }

    [Theory]
    [InlineData("fr", "Voiture", "fr")]
    [InlineData("FR", "Voiture", "fr")]
    [InlineData("fr-CH", "Auto", "fr-CH")]
    [InlineData("fr-BE", "Voiture", "fr")]
    [InlineData("de,fr;q=0.5", "Voiture", "fr")]
    [InlineData("fr;q=0.4,en;q=0.9", "Car", "en")]
    [InlineData("de", "C", "@none")]
    [InlineData("*", "Car", "en")]
    public void Lang_turns_language_properties_into_properties_with_the_best_language(string lang, string value, string tag)
    {
        var o = Render(new RenderOptions { Lang = lang });
        AssertJson($$$$"""{"type":"Property","value":"{{{{value}}}}","lang":"{{{{tag}}}}"}""", o["name"]);
        var kv = Render(new RenderOptions { Lang = lang, Representation = Representation.KeyValues });
        Assert.Equal(value, (string?)kv["name"]);
        var concise = Render(new RenderOptions { Lang = lang, Representation = Representation.Concise });
        AssertJson($$$$"""{"value":"{{{{value}}}}","lang":"{{{{tag}}}}"}""", concise["name"]);
    }

    [Fact]
    public void Lang_falls_back_to_any_language_without_none()
    {
        var e = J($$$$"""{"id":"urn:a:1","type":["{{{{Vocab}}}}T"],"{{{{Vocab}}}}n":[{"type":"LanguageProperty","languageMap":{"it":"Ciao"}}]}""");
        var o = EntityRenderer.Render(e, Ctx, new RenderOptions { Lang = "de" });
        Assert.Equal("Ciao", (string?)o["n"]!["value"]);
    }

    [Fact]
    public void Rendering_does_not_modify_the_entity()
    {
        var e = Stored();
        var before = e.ToJsonString();
        foreach (var r in new[] { Representation.Normalized, Representation.Concise, Representation.KeyValues })
        {
            EntityRenderer.Render(e, Ctx, new RenderOptions { Representation = r, SysAttrs = true, Lang = "fr" });
        }

        Assert.Equal(before, e.ToJsonString());
    }

    [Fact]
    public void Feature_carries_the_geometry_and_properties()
    {
        var f = EntityRenderer.RenderFeature(Stored(), Ctx, new RenderOptions { Representation = Representation.KeyValues }, Loc);
        Assert.Equal("urn:ngsi-ld:Car:1", (string?)f["id"]);
        Assert.Equal("Feature", (string?)f["type"]);
        AssertJson("""{"type":"Point","coordinates":[8.5,40.1]}""", f["geometry"]);
        var properties = f["properties"]!.AsObject();
        Assert.False(properties.ContainsKey("id"));
        Assert.Equal("Car", (string?)properties["type"]);
        Assert.Equal("urn:p:1", (string?)properties["owner"]);
    }

    [Fact]
    public void Feature_geometry_is_null_without_the_geometry_property()
    {
        var f = EntityRenderer.RenderFeature(Stored(), Ctx, RenderOptions.Default, Vocab + "nowhere");
        Assert.True(f.ContainsKey("geometry"));
        Assert.Null(f["geometry"]);
        // A Property that is not a GeoProperty gives no geometry either.
        Assert.Null(EntityRenderer.RenderFeature(Stored(), Ctx, RenderOptions.Default, Vocab + "shape")["geometry"]);
    }

    [Fact]
    public void Feature_collection_wraps_features()
    {
        var c = EntityRenderer.RenderFeatureCollection([Stored(), Stored()], Ctx, RenderOptions.Default, Loc);
        Assert.Equal("FeatureCollection", (string?)c["type"]);
        Assert.Equal(2, c["features"]!.AsArray().Count);
        Assert.Equal("Feature", (string?)c["features"]![1]!["type"]);
    }

    [Theory]
    [InlineData(Representation.Normalized)]
    [InlineData(Representation.Concise)]
    public void Lossless_representations_round_trip_through_the_parser(Representation representation)
    {
        var input = J("""
            { "id":"urn:ngsi-ld:Car:1", "type":"Car", "scope":["/a","/b"],
              "speed": [ {"type":"Property","value":55,"unitCode":"KMH","observedAt":"2026-01-01T00:00:00Z","accuracy":{"type":"Property","value":0.9}},
                         {"type":"Property","value":60,"datasetId":"urn:ds:gps"} ],
              "owner": {"type":"Relationship","object":["urn:p:1","urn:p:2"],"objectType":"Person"},
              "name": {"type":"LanguageProperty","languageMap":{"en":"Car"}},
              "category": {"type":"VocabProperty","vocab":"Sedan"},
              "config": {"type":"JsonProperty","json":{"type":"Relationship","object":"x"}},
              "readings": {"type":"ListProperty","valueList":[1,{"a":2}]},
              "route": {"type":"ListRelationship","objectList":[{"object":"urn:s:1"}]},
              "address": {"type":"Property","value":{"city":"X","object":"y"}},
              "tags": {"type":"Property","value":[{"a":1}]},
              "plain": {"type":"Property","value":"text"} }
            """);
        var stored = EntityParser.Parse(input, Ctx, PayloadKind.Entity);
        var rendered = EntityRenderer.Render(stored, Ctx, new RenderOptions { Representation = representation });
        var reparsed = EntityParser.Parse(rendered, Ctx, PayloadKind.Entity);
        AssertJson(stored.ToJsonString(), reparsed);
    }

    [Fact]
    public void Key_values_round_trip_keeps_property_values()
    {
        var stored = ParseEntity("""{"id":"urn:a:1","type":"T","speed":5,"address":{"city":"X"},"tags":["a"]}""", keyValues: true);
        var rendered = EntityRenderer.Render(stored, Ctx, new RenderOptions { Representation = Representation.KeyValues });
        AssertJson("""{"id":"urn:a:1","type":"T","speed":5,"address":{"city":"X"},"tags":["a"]}""", rendered);
    }

    [Fact]
    public void Concise_multi_instance_attribute_keeps_every_instance_an_object()
    {
        var stored = ParseEntity("""{"id":"urn:a:1","type":"T","speed":[{"value":1},{"value":2,"datasetId":"urn:ds:b"}]}""");
        var rendered = EntityRenderer.Render(stored, Ctx, new RenderOptions { Representation = Representation.Concise });
        AssertJson("""[{"value":1},{"value":2,"datasetId":"urn:ds:b"}]""", rendered["speed"]);
        AssertJson(stored.ToJsonString(), EntityParser.Parse(rendered, Ctx, PayloadKind.Entity));
    }
}
