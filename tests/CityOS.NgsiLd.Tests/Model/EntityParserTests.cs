using System.Text.Json.Nodes;
using CityOS.NgsiLd.Errors;
using CityOS.NgsiLd.Model;
using static CityOS.NgsiLd.Tests.Model.ModelTestData;

namespace CityOS.NgsiLd.Tests.Model;

public sealed class EntityParserTests
{
    private const string Head = """ "id": "urn:ngsi-ld:Car:1", "type": "Car" """;

    [Fact]
    public void Core_members_are_expanded_and_type_and_scope_become_arrays()
    {
        var e = ParseEntity("""{"id":"urn:ngsi-ld:Car:1","type":"Car","scope":"/A/B","@context":"x","createdAt":"2020-01-01T00:00:00Z"}""");
        AssertJson($$$"""{"id":"urn:ngsi-ld:Car:1","type":["{{{Vocab}}}Car"],"scope":["/A/B"]}""", e);
    }

    [Fact]
    public void Several_types_and_scopes_are_kept_without_duplicates()
    {
        var e = ParseEntity("""{"id":"urn:a:1","type":["Car","Vehicle","Car"],"scope":["/a","/b/c","/a"]}""");
        AssertJson($$$"""["{{{Vocab}}}Car","{{{Vocab}}}Vehicle"]""", e["type"]);
        AssertJson("""["/a","/b/c"]""", e["scope"]);
    }

    [Theory]
    [InlineData("""{"type":"Car"}""")]
    [InlineData("""{"id":"urn:a:1"}""")]
    [InlineData("""{"id":"not a uri","type":"Car"}""")]
    [InlineData("""{"id":"/relative","type":"Car"}""")]
    [InlineData("""{"id":5,"type":"Car"}""")]
    [InlineData("""{"id":"urn:a:1","type":[]}""")]
    [InlineData("""{"id":"urn:a:1","type":"1Car"}""")]
    [InlineData("""{"id":"urn:a:1","type":"Car","scope":"noslash"}""")]
    [InlineData("""{"id":"urn:a:1","type":"Car","scope":"/a//b"}""")]
    [InlineData("""{"id":"urn:a:1","type":"Car","scope":5}""")]
    public void Invalid_core_members_are_bad_request_data(string json) => BadEntity(json);

    [Theory]
    [InlineData("""{"@type": "DateTime", "@value": "2026-13-45T99:00:00Z"}""")]
    [InlineData("""{"@type": "DateTime", "@value": 5}""")]
    [InlineData("""{"@type": "Date", "@value": "2026-02-30"}""")]
    [InlineData("""{"@type": "Time", "@value": "25:00:00"}""")]
    [InlineData("""{"@type": "https://uri.etsi.org/ngsi-ld/DateTime", "@value": "yesterday"}""")]
    public void Impossible_typed_temporal_values_are_bad_request_data(string value) =>
        BadEntity($$$"""{"id": "urn:a:1", "type": "Car", "seen": {"type": "Property", "value": {{{value}}}}}""");

    [Fact]
    public void Valid_typed_temporal_values_and_other_typed_values_are_kept()
    {
        var e = ParseEntity("""{"id": "urn:a:1", "type": "Car", "seen": {"type": "Property", "value": {"@type": "DateTime", "@value": "2026-01-01T00:00:00Z"}}, "n": {"type": "Property", "value": {"@type": "Custom", "@value": "x"}}}""");
        Assert.Equal(2, e.Count(p => p.Key.Contains(':', StringComparison.Ordinal) && p.Key != "id"));
    }

    [Theory]
    [InlineData("""{"type": "VocabProperty", "vocab": "bad name"}""")]
    [InlineData("""{"type": "VocabProperty", "vocab": ["Diesel", "a<b"]}""")]
    [InlineData("""{"type": "Property", "value": 1, "valueType": "not an iri"}""")]
    public void Vocab_terms_that_do_not_expand_to_an_iri_are_bad_request_data(string attribute) =>
        BadEntity($$$"""{"id": "urn:a:1", "type": "Car", "fuel": {{{attribute}}}}""");

    [Fact]
    public void Entity_id_longer_than_the_limit_is_bad_request_data()
    {
        BadEntity($$$"""{"id": "urn:a:{{{new string('x', EntityParser.MaxEntityIdLength)}}}", "type": "Car"}""");
        ParseEntity($$$"""{"id": "urn:a:{{{new string('x', EntityParser.MaxEntityIdLength - 6)}}}", "type": "Car"}""");
    }

    [Fact]
    public void Fragment_needs_neither_id_nor_type()
    {
        var e = ParseFragment("""{"speed": 3}""");
        Assert.False(e.ContainsKey("id"));
        Assert.False(e.ContainsKey("type"));
        AssertJson("""[{"type":"Property","value":3}]""", e[Vocab + "speed"]);
    }

    [Fact]
    public void Normalized_property_with_metadata_and_sub_attribute_is_kept()
    {
        var e = ParseEntity($$$"""
            { {{{Head}}}, "speed": {"type":"Property","value":55,"unitCode":"KMH","observedAt":"2026-11-23T09:59:00,5Z",
                "valueType":"Speed","datasetId":"urn:ds:gps","createdAt":"ignored",
                "accuracy": {"type":"Property","value":0.9}} }
            """);
        AssertJson($$$"""
            [{"type":"Property","value":55,"unitCode":"KMH","observedAt":"2026-11-23T09:59:00.5Z","valueType":"{{{Vocab}}}Speed",
              "datasetId":"urn:ds:gps","{{{Vocab}}}accuracy":[{"type":"Property","value":0.9}]}]
            """, e[Vocab + "speed"]);
    }

    [Fact]
    public void Property_object_value_keeps_its_keys_unexpanded()
    {
        var e = ParseEntity($$$"""{ {{{Head}}}, "address": {"type":"Property","value":{"streetAddress":"Main 1","city":"X"}} }""");
        AssertJson("""{"streetAddress":"Main 1","city":"X"}""", Instance(e, "address")["value"]);
    }

    [Fact]
    public void Relationship_takes_a_uri_or_an_array_of_uris()
    {
        var e = ParseEntity($$$"""
            { {{{Head}}}, "owner": {"type":"Relationship","object":"urn:p:1","objectType":"Person"},
                        "friends": {"type":"Relationship","object":["urn:p:1","urn:p:2"]} }
            """);
        AssertJson($$$"""{"type":"Relationship","object":"urn:p:1","objectType":"{{{Vocab}}}Person"}""", Instance(e, "owner"));
        AssertJson("""["urn:p:1","urn:p:2"]""", Instance(e, "friends")["object"]);
    }

    [Fact]
    public void LanguageProperty_VocabProperty_JsonProperty_and_lists_are_parsed()
    {
        var e = ParseEntity($$$"""
            { {{{Head}}},
              "name": {"type":"LanguageProperty","languageMap":{"en":"Car","fr-CH":["Voiture","Auto"],"@none":"C"}},
              "category": {"type":"VocabProperty","vocab":["Sedan","Electric"]},
              "config": {"type":"JsonProperty","json":{"type":"Property","value":null,"k":[1]}},
              "readings": {"type":"ListProperty","valueList":[1,"two",{"three":3}]},
              "route": {"type":"ListRelationship","objectList":[{"object":"urn:s:1"},"urn:s:2"]} }
            """);
        AssertJson("""{"type":"LanguageProperty","languageMap":{"en":"Car","fr-CH":["Voiture","Auto"],"@none":"C"}}""", Instance(e, "name"));
        AssertJson($$$"""["{{{Vocab}}}Sedan","{{{Vocab}}}Electric"]""", Instance(e, "category")["vocab"]);
        AssertJson("""{"type":"Property","value":null,"k":[1]}""", Instance(e, "config")["json"]);
        AssertJson("""[1,"two",{"three":3}]""", Instance(e, "readings")["valueList"]);
        AssertJson("""[{"object":"urn:s:1"},{"object":"urn:s:2"}]""", Instance(e, "route")["objectList"]);
    }

    [Theory]
    [InlineData("42", """{"type":"Property","value":42}""")]
    [InlineData("\"urn:ngsi-ld:Person:1\"", """{"type":"Property","value":"urn:ngsi-ld:Person:1"}""")]
    [InlineData("[1,2,[3]]", """{"type":"Property","value":[1,2,[3]]}""")]
    [InlineData("""{"object":"urn:p:1"}""", """{"type":"Relationship","object":"urn:p:1"}""")]
    [InlineData("""{"objectList":["urn:p:1"]}""", """{"type":"ListRelationship","objectList":[{"object":"urn:p:1"}]}""")]
    [InlineData("""{"json":{"a":1}}""", """{"type":"JsonProperty","json":{"a":1}}""")]
    [InlineData("""{"languageMap":{"en":"x"}}""", """{"type":"LanguageProperty","languageMap":{"en":"x"}}""")]
    [InlineData("""{"vocab":"Sedan"}""", """{"type":"VocabProperty","vocab":"https://uri.etsi.org/ngsi-ld/default-context/Sedan"}""")]
    [InlineData("""{"valueList":[1,2]}""", """{"type":"ListProperty","valueList":[1,2]}""")]
    [InlineData("""{"value":5,"unitCode":"KMH"}""", """{"type":"Property","value":5,"unitCode":"KMH"}""")]
    [InlineData("""{"street":"Main","number":1}""", """{"type":"Property","value":{"street":"Main","number":1}}""")]
    [InlineData("""{"type":"PostalAddress","street":"Main"}""", """{"type":"Property","value":{"type":"PostalAddress","street":"Main"}}""")]
    [InlineData("""{"value":1,"accuracy":0.5}""", """{"type":"Property","value":1,"https://uri.etsi.org/ngsi-ld/default-context/accuracy":[{"type":"Property","value":0.5}]}""")]
    public void Concise_input_is_normalized(string attribute, string expected)
    {
        var e = ParseEntity($$$"""{ {{{Head}}}, "a": {{{attribute}}} }""");
        AssertJson($"[{expected}]", e[Vocab + "a"]);
    }

    [Fact]
    public void Bare_geometry_and_value_geometry_are_geoproperties_validated_by_GeoJson()
    {
        foreach (var attribute in new[]
        {
            """{"type":"Point","coordinates":[8.5,40.1]}""",
            """{"value":{"type":"Point","coordinates":[8.5,40.1]}}""",
            """{"type":"GeoProperty","value":{"type":"Point","coordinates":[8.5,40.1]}}""",
        })
        {
            var e = ParseEntity($$$"""{ {{{Head}}}, "location": {{{attribute}}} }""");
            AssertJson("""[{"type":"GeoProperty","value":{"type":"Point","coordinates":[8.5,40.1]}}]""", e["https://uri.etsi.org/ngsi-ld/location"]);
        }
    }

    [Theory]
    [InlineData("""{"type":"GeoProperty","value":"POINT(1 2)"}""")]
    [InlineData("""{"type":"GeoProperty","value":{"type":"Point"}}""")]
    [InlineData("""{"type":"GeoProperty","value":{"coordinates":[1,2]}}""")]
    public void GeoProperty_value_that_is_not_a_geometry_object_is_rejected_before_GeoJson(string attribute)
    {
        var ex = BadEntity($$$"""{ {{{Head}}}, "location": {{{attribute}}} }""");
        Assert.Contains("location", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Key_values_input_makes_properties()
    {
        var e = ParseEntity($$$"""{ {{{Head}}}, "speed": 5, "owner": "urn:p:1", "address": {"city":"X"}, "tags": ["a","b"] }""", keyValues: true);
        AssertJson("""[{"type":"Property","value":5}]""", e[Vocab + "speed"]);
        AssertJson("""[{"type":"Property","value":"urn:p:1"}]""", e[Vocab + "owner"]);
        AssertJson("""[{"type":"Property","value":{"city":"X"}}]""", e[Vocab + "address"]);
        AssertJson("""[{"type":"Property","value":["a","b"]}]""", e[Vocab + "tags"]);
    }

    [Fact]
    public void Key_values_object_with_value_member_stays_a_plain_value()
    {
        var e = ParseEntity($$$"""{ {{{Head}}}, "x": {"type":"Relationship","object":"urn:p:1"} }""", keyValues: true);
        AssertJson("""{"type":"Relationship","object":"urn:p:1"}""", Instance(e, "x")["value"]);
    }

    [Fact]
    public void Multi_instance_attribute_keeps_distinct_dataset_ids()
    {
        var e = ParseEntity($$$"""{ {{{Head}}}, "speed": [ {"type":"Property","value":1}, {"value":2,"datasetId":"urn:ds:a"} ] }""");
        AssertJson("""[{"type":"Property","value":1},{"type":"Property","value":2,"datasetId":"urn:ds:a"}]""", e[Vocab + "speed"]);
    }

    [Fact]
    public void Dataset_id_none_means_the_default_instance()
    {
        var e = ParseEntity($$$"""{ {{{Head}}}, "speed": {"value":1,"datasetId":"@none"} }""");
        AssertJson("""[{"type":"Property","value":1}]""", e[Vocab + "speed"]);
    }

    [Theory]
    [InlineData("""[{"value":1},{"value":2}]""", "at most one")]
    [InlineData("""[{"value":1},{"value":2,"datasetId":"@none"}]""", "at most one")]
    [InlineData("""[{"value":1,"datasetId":"urn:d:1"},{"value":2,"datasetId":"urn:d:1"}]""", "urn:d:1")]
    public void Duplicate_dataset_ids_are_rejected(string attribute, string detail)
    {
        var ex = BadEntity($$$"""{ {{{Head}}}, "speed": {{{attribute}}} }""");
        Assert.Contains(detail, ex.Message, StringComparison.Ordinal);
        Assert.Contains("speed", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("speed", """null""")]
    [InlineData("speed", """{"type":"Property","value":null}""")]
    [InlineData("speed", """{"type":"Property"}""")]
    [InlineData("speed", """{"type":"Property","value":{"a":null}}""")]
    [InlineData("speed", """{"type":"Property","value":[1,null]}""")]
    [InlineData("speed", """{"type":"Property","value":1,"object":"urn:x:1"}""")]
    [InlineData("speed", """{"type":"Propertyy","value":1}""")]
    [InlineData("speed", """{"type":"Property","value":1,"observedAt":"2026-11-23T09:59:00+01:00"}""")]
    [InlineData("speed", """{"type":"Property","value":1,"observedAt":"2026-11-23T09:59:00.1234567Z"}""")]
    [InlineData("speed", """{"type":"Property","value":1,"observedAt":"2026-13-23T09:59:00Z"}""")]
    [InlineData("speed", """{"type":"Property","value":1,"unitCode":5}""")]
    [InlineData("speed", """{"type":"Property","value":1,"datasetId":"not a uri"}""")]
    [InlineData("speed", """{"type":"Property","value":1,"datasetId":"urn:ngsi-ld:null"}""")]
    [InlineData("speed", """{"type":"Property","value":1,"@context":"http://x"}""")]
    [InlineData("speed", """{"type":"Property","value":1,"sub":null}""")]
    [InlineData("speed", """{"type":"Property","value":1,"objectType":"Person"}""")]
    [InlineData("speed", """[{"value":1},2]""")]
    [InlineData("owner", """{"type":"Relationship","object":"not a uri"}""")]
    [InlineData("owner", """{"type":"Relationship","object":[]}""")]
    [InlineData("owner", """{"type":"Relationship","object":5}""")]
    [InlineData("owner", """{"type":"Relationship","object":"urn:p:1","unitCode":"KMH"}""")]
    [InlineData("owner", """{"type":"Relationship","object":"urn:p:1","valueType":"X"}""")]
    [InlineData("name", """{"type":"LanguageProperty","languageMap":"Car"}""")]
    [InlineData("name", """{"type":"LanguageProperty","languageMap":{"not a tag":"x"}}""")]
    [InlineData("name", """{"type":"LanguageProperty","languageMap":{"en":5}}""")]
    [InlineData("name", """{"type":"LanguageProperty","languageMap":{"en":"x"},"unitCode":"KMH"}""")]
    [InlineData("category", """{"type":"VocabProperty","vocab":5}""")]
    [InlineData("category", """{"type":"VocabProperty","vocab":[]}""")]
    [InlineData("category", """{"type":"VocabProperty","vocab":"x","unitCode":"KMH"}""")]
    [InlineData("config", """{"type":"JsonProperty","json":null}""")]
    [InlineData("config", """{"type":"JsonProperty","json":{},"unitCode":"KMH"}""")]
    [InlineData("readings", """{"type":"ListProperty","valueList":5}""")]
    [InlineData("route", """{"type":"ListRelationship","objectList":["nope"]}""")]
    [InlineData("route", """{"type":"ListRelationship","objectList":[{"object":"urn:a:1","x":1}]}""")]
    [InlineData("route", """{"type":"ListRelationship","objectList":[{"object":"urn:a:1"}],"unitCode":"KMH"}""")]
    public void Invalid_attributes_are_rejected_naming_the_attribute(string name, string attribute)
    {
        var ex = BadEntity($$$"""{ {{{Head}}}, "{{{name}}}": {{{attribute}}} }""");
        Assert.Contains(name, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("datasetId")]
    [InlineData("createdAtX y")]
    [InlineData("instanceId")]
    [InlineData("observedAt")]
    [InlineData("value")]
    [InlineData("1speed")]
    [InlineData("sp eed")]
    [InlineData("sp-eed")]
    [InlineData("a(b)")]
    [InlineData("ngsi-ld:datasetId")]
    public void Invalid_or_reserved_attribute_names_are_rejected(string name) =>
        BadEntity($$$"""{ {{{Head}}}, "{{{name}}}": 1 }""");

    [Theory]
    [InlineData("speed_2", Vocab + "speed_2")]
    [InlineData("vitesse\u00e9", Vocab + "vitesse\u00e9")]
    [InlineData("ex:speed", "ex:speed")]
    [InlineData("http://example.org/speed", "http://example.org/speed")]
    public void Valid_attribute_names_are_expanded(string name, string iri)
    {
        var e = ParseEntity($$$"""{ {{{Head}}}, "{{{name}}}": 1 }""");
        Assert.True(e.ContainsKey(iri));
    }

    [Fact]
    public void Sub_attribute_names_are_validated_too()
    {
        var ex = BadEntity($$$"""{ {{{Head}}}, "speed": {"value":1,"bad name":2} }""");
        Assert.Contains("speed.bad name", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Sub_attributes_recurse_in_concise_form()
    {
        var e = ParseEntity($$$$"""{ {{{{Head}}}}, "speed": {"value":1,"a":{"value":2,"b":{"object":"urn:x:1"}}} }""");
        var b = Instance(e, "speed")[Vocab + "a"]![0]![Vocab + "b"]![0];
        AssertJson("""{"type":"Relationship","object":"urn:x:1"}""", b);
    }

    [Fact]
    public void Sub_attribute_nesting_is_bounded()
    {
        var json = "1";
        for (var i = 0; i < 40; i++)
        {
            json = "{\"value\":1,\"s\":" + json + "}";
        }

        BadEntity($$$"""{ {{{Head}}}, "speed": {{{json}}} }""");
    }

    [Fact]
    public void Same_attribute_given_short_and_expanded_is_rejected() =>
        BadEntity($$$"""{ {{{Head}}}, "speed": 1, "{{{Vocab}}}speed": 2 }""");

    [Theory]
    [InlineData("\"urn:ngsi-ld:null\"")]
    [InlineData("""{"type":"Property","value":"urn:ngsi-ld:null"}""")]
    [InlineData("""{"type":"Relationship","object":"urn:ngsi-ld:null"}""")]
    [InlineData("""{"type":"LanguageProperty","languageMap":{"@none":"urn:ngsi-ld:null"}}""")]
    [InlineData("""{"type":"VocabProperty","vocab":"urn:ngsi-ld:null"}""")]
    [InlineData("""{"type":"JsonProperty","json":"urn:ngsi-ld:null"}""")]
    [InlineData("""{"type":"ListProperty","valueList":["urn:ngsi-ld:null"]}""")]
    [InlineData("""{"type":"ListRelationship","objectList":["urn:ngsi-ld:null"]}""")]
    [InlineData("""{"type":"GeoProperty","value":"urn:ngsi-ld:null"}""")]
    [InlineData("""{"value":1,"sub":"urn:ngsi-ld:null"}""")]
    [InlineData("""{"value":{"k":"urn:ngsi-ld:null"}}""")]
    public void Ngsi_ld_null_is_rejected_in_entities_and_kept_verbatim_in_fragments(string attribute)
    {
        BadEntity($$$"""{ {{{Head}}}, "a": {{{attribute}}} }""");
        var fragment = ParseFragment($$$"""{ "a": {{{attribute}}} }""");
        Assert.Contains(Names.NgsiLdNull, fragment.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Fragment_null_forms_are_recognised_as_deletions()
    {
        var f = ParseFragment("""
            { "a": "urn:ngsi-ld:null", "b": {"type":"LanguageProperty","languageMap":{"@none":"urn:ngsi-ld:null"}},
              "c": {"objectList":["urn:ngsi-ld:null"]}, "d": {"value":"urn:ngsi-ld:null","datasetId":"urn:ds:1"}, "e": 5 }
            """);
        Assert.True(Instances.IsNgsiLdNull(Instance(f, "a")));
        Assert.True(Instances.IsNgsiLdNull(Instance(f, "b")));
        AssertJson("""["urn:ngsi-ld:null"]""", Instance(f, "c")["objectList"]);
        Assert.True(Instances.IsNgsiLdNull(Instance(f, "c")));
        Assert.True(Instances.IsNgsiLdNull(Instance(f, "d")));
        Assert.Equal("urn:ds:1", Instances.DatasetId(Instance(f, "d")));
        Assert.False(Instances.IsNgsiLdNull(Instance(f, "e")));
    }

    [Fact]
    public void Null_inside_a_relationship_array_is_rejected_even_in_fragments() =>
        BadEntity("""{ "a": {"object":["urn:a:1","urn:ngsi-ld:null"]} }""", PayloadKind.Fragment);

    [Fact]
    public void Fragment_instance_may_omit_its_content_member()
    {
        var f = ParseFragment("""{ "speed": {"type":"Property","observedAt":"2026-01-01T00:00:00Z"} }""");
        AssertJson("""{"type":"Property","observedAt":"2026-01-01T00:00:00Z"}""", Instance(f, "speed"));
    }

    [Fact]
    public void Entity_scope_null_is_only_allowed_in_fragments()
    {
        BadEntity("""{"id":"urn:a:1","type":"T","scope":"urn:ngsi-ld:null"}""");
        AssertJson("""["urn:ngsi-ld:null"]""", ParseFragment("""{"scope":"urn:ngsi-ld:null"}""")["scope"]);
    }

    [Fact]
    public void Parse_attribute_accepts_one_instance_or_an_array()
    {
        var one = EntityParser.ParseAttribute(Vocab + "speed", JsonNode.Parse("""{"value":3}""")!, Ctx, PayloadKind.Fragment);
        AssertJson("""[{"type":"Property","value":3}]""", one);
        var many = EntityParser.ParseAttribute(Vocab + "speed", JsonNode.Parse("""[{"value":3},{"value":4,"datasetId":"urn:d:1"}]""")!, Ctx, PayloadKind.Entity);
        Assert.Equal(2, many.Count);
        var ex = Assert.Throws<NgsiLdException>(() => EntityParser.ParseAttribute(Vocab + "speed", JsonNode.Parse("""{"type":"Property"}""")!, Ctx, PayloadKind.Entity));
        Assert.Contains("speed", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parsing_does_not_modify_the_body()
    {
        var body = J($$$"""{ {{{Head}}}, "speed": {"value":{"a":1}}, "name": {"languageMap":{"en":"x"}} }""");
        var before = body.ToJsonString();
        EntityParser.Parse(body, Ctx, PayloadKind.Entity);
        Assert.Equal(before, body.ToJsonString());
    }

    [Fact]
    public void Entity_expires_at_is_validated()
    {
        Assert.Equal("2030-01-01T00:00:00Z", (string?)ParseEntity("""{"id":"urn:a:1","type":"T","expiresAt":"2030-01-01T00:00:00Z"}""")["expiresAt"]);
        BadEntity("""{"id":"urn:a:1","type":"T","expiresAt":"tomorrow"}""");
    }

    [Theory]
    [InlineData("location", "\"Paris\"")]
    [InlineData("observationSpace", """{"type":"Property","value":{"type":"Point","coordinates":[1,2]}}""")]
    [InlineData("operationSpace", """{"object":"urn:a:1"}""")]
    public void Core_geo_attributes_must_be_geoproperties(string name, string attribute)
    {
        var ex = BadEntity($$$"""{ {{{Head}}}, "{{{name}}}": {{{attribute}}} }""");
        Assert.Contains(name, ex.Message, StringComparison.Ordinal);
        Assert.Contains("GeoProperty", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Location_may_be_deleted_with_the_ngsi_ld_null_in_fragments()
    {
        var f = ParseFragment("""{"location":"urn:ngsi-ld:null"}""");
        Assert.True(Instances.IsNgsiLdNull(f["https://uri.etsi.org/ngsi-ld/location"]![0]!.AsObject()));
    }
}
