using System.Text.Json.Nodes;
using CityOS.NgsiLd.Errors;
using CityOS.NgsiLd.JsonLd;

namespace CityOS.NgsiLd.Tests.JsonLd;

public sealed class LdContextTests
{
    private const string Ngsi = "https://uri.etsi.org/ngsi-ld/";
    private const string Default = "https://uri.etsi.org/ngsi-ld/default-context/";
    private const string Fiware = "https://uri.fiware.org/ns/dataModels#";

    private static LdContext FromJson(string json) => LdContext.Create(JsonNode.Parse(json));

    private static LdContext SmartDataModels() => FromJson($$"""
        {
          "Vehicle": "{{Fiware}}Vehicle",
          "speed": "{{Fiware}}speed",
          "schema": "https://schema.org/",
          "name": "schema:name",
          "category": { "@id": "{{Fiware}}category", "@type": "@vocab" },
          "refParking": { "@id": "{{Fiware}}refParking", "@type": "@id" },
          "xsd": "http://www.w3.org/2001/XMLSchema#",
          "length": { "@id": "{{Fiware}}length", "@type": "xsd:float" },
          "OnStreet": "{{Fiware}}OnStreet"
        }
        """);

    private static void AssertBadRequest(Action action) =>
        Assert.Equal(ErrorType.BadRequestData, Assert.Throws<NgsiLdException>(action).Type);

    [Fact]
    public void Core_expands_an_unmapped_term_into_the_default_vocab() =>
        Assert.Equal(Default + "P13", LdContext.Core.ExpandTerm("P13"));

    [Theory]
    [InlineData("location", Ngsi + "location")]
    [InlineData("observedAt", Ngsi + "observedAt")]
    [InlineData("Property", Ngsi + "Property")]
    [InlineData("VocabProperty", Ngsi + "VocabProperty")]
    [InlineData("Point", "https://purl.org/geojson/vocab#Point")]
    [InlineData("languageMap", Ngsi + "hasLanguageMap")]
    [InlineData("ngsi-ld:foo", Ngsi + "foo")]
    [InlineData("type", "@type")]
    [InlineData("@id", "@id")]
    public void Core_expands_core_terms_and_compact_iris(string term, string expected) =>
        Assert.Equal(expected, LdContext.Core.ExpandTerm(term));

    [Theory]
    [InlineData("https://schema.org/name")]
    [InlineData("urn:ngsi-ld:Vehicle:A4567")]
    [InlineData("http://example.org/a:b")]
    public void Absolute_iris_expand_to_themselves(string iri) =>
        Assert.Equal(iri, LdContext.Core.ExpandTerm(iri));

    [Theory]
    [InlineData(Ngsi + "location", "location")]
    [InlineData(Default + "speed", "speed")]
    [InlineData(Ngsi + "somethingNew", "ngsi-ld:somethingNew")]
    [InlineData("https://purl.org/geojson/vocab#Polygon", "Polygon")]
    [InlineData("https://example.org/unknown", "https://example.org/unknown")]
    [InlineData(Default + "a:b", "ngsi-ld:default-context/a:b")]
    public void Core_compacts_iris_to_terms_vocab_suffixes_or_compact_iris(string iri, string expected)
    {
        var compacted = LdContext.Core.CompactIri(iri);
        Assert.Equal(expected, compacted);
        Assert.Equal(iri, LdContext.Core.ExpandTerm(compacted));
    }

    [Theory]
    [InlineData("Vehicle", Fiware + "Vehicle")]
    [InlineData("speed", Fiware + "speed")]
    [InlineData("name", "https://schema.org/name")]
    [InlineData("schema:address", "https://schema.org/address")]
    [InlineData("fuelLevel", Default + "fuelLevel")]
    [InlineData("location", Ngsi + "location")]
    public void User_context_expands_terms_prefixes_and_falls_back_to_the_default_vocab(string term, string expected)
    {
        var context = SmartDataModels();
        Assert.Equal(expected, context.ExpandTerm(term));
        Assert.Equal(term, context.CompactIri(expected));
    }

    [Fact]
    public void Term_definitions_carry_type_coercion()
    {
        var context = SmartDataModels();
        Assert.True(context.GetTermDefinition("category")!.IsVocabCoerced);
        Assert.True(context.GetTermDefinition("refParking")!.IsIdCoerced);
        Assert.Equal("http://www.w3.org/2001/XMLSchema#float", context.GetTermDefinition("length")!.TypeMapping);
        Assert.Equal(Ngsi + "DateTime", context.GetTermDefinition("observedAt")!.TypeMapping);
        Assert.True(context.GetTermDefinition("vocab")!.IsVocabCoerced);
        Assert.True(context.GetTermDefinition("observedAt")!.IsCore);
        Assert.False(context.GetTermDefinition("Vehicle")!.IsCore);
        Assert.Null(context.GetTermDefinition("fuelLevel"));
    }

    [Fact]
    public void Vocab_values_expand_vocab_relative_and_compact_back()
    {
        var context = SmartDataModels();
        Assert.Equal(Fiware + "OnStreet", context.ExpandVocabValue("OnStreet"));
        Assert.Equal(Default + "OffStreet", context.ExpandVocabValue("OffStreet"));
        Assert.Equal("https://schema.org/Place", context.ExpandVocabValue("schema:Place"));
        Assert.Equal(Default + "type", context.ExpandVocabValue("type"));
        Assert.Equal("OnStreet", context.CompactVocabValue(Fiware + "OnStreet"));
        Assert.Equal("OffStreet", context.CompactVocabValue(Default + "OffStreet"));
    }

    [Fact]
    public void A_user_vocab_replaces_the_default_vocab_but_not_core_terms()
    {
        var context = FromJson("""{ "@vocab": "https://example.org/city#" }""");
        Assert.Equal("https://example.org/city#P13", context.ExpandTerm("P13"));
        Assert.Equal("P13", context.CompactIri("https://example.org/city#P13"));
        Assert.Equal(Ngsi + "location", context.ExpandTerm("location"));

        // Data stored under the default vocab still compacts to something that expands back to it.
        var compacted = context.CompactIri(Default + "speed");
        Assert.Equal("ngsi-ld:default-context/speed", compacted);
        Assert.Equal(Default + "speed", context.ExpandTerm(compacted));
    }

    [Fact]
    public void A_vocab_may_be_a_compact_iri_over_an_earlier_prefix()
    {
        var context = FromJson("""[{ "ex": "https://example.org/" }, { "@vocab": "ex:terms/" }]""");
        Assert.Equal("https://example.org/terms/P1", context.ExpandTerm("P1"));
        Assert.Equal("https://example.org/terms/", context.Vocab);
    }

    [Fact]
    public void A_null_vocab_falls_back_to_the_core_default()
    {
        var context = FromJson("""[{ "@vocab": "https://example.org/" }, { "@vocab": null }]""");
        Assert.Equal(Default + "P1", context.ExpandTerm("P1"));
    }

    [Fact]
    public void Core_terms_win_over_user_redefinitions_wherever_the_core_sits()
    {
        foreach (var json in new[]
        {
            """{ "location": "https://example.org/myLocation", "Property": "https://example.org/P", "ngsi-ld": "https://example.org/" }""",
            """["https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld", { "location": "https://example.org/myLocation" }]""",
            """[{ "location": "https://example.org/myLocation" }, "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"]""",
        })
        {
            var context = FromJson(json);
            Assert.Equal(Ngsi + "location", context.ExpandTerm("location"));
            Assert.Equal("location", context.CompactIri(Ngsi + "location"));
        }

        var redefined = FromJson("""{ "Property": "https://example.org/P", "ngsi-ld": "https://example.org/" }""");
        Assert.Equal(Ngsi + "Property", redefined.ExpandTerm("Property"));
        Assert.Equal(Ngsi + "x", redefined.ExpandTerm("ngsi-ld:x"));
    }

    [Fact]
    public void Compaction_prefers_the_users_term_for_an_iri_the_core_also_names()
    {
        var context = FromJson("""{ "myLocation": "https://uri.etsi.org/ngsi-ld/location" }""");
        Assert.Equal("myLocation", context.CompactIri(Ngsi + "location"));
        Assert.Equal(Ngsi + "location", context.ExpandTerm("location"));
    }

    [Fact]
    public void Compaction_picks_the_shortest_then_ordinal_first_term_whatever_the_order_of_definition()
    {
        var one = FromJson("""{ "bb": "https://ex.org/x", "ab": "https://ex.org/x", "abc": "https://ex.org/x" }""");
        var two = FromJson("""{ "abc": "https://ex.org/x", "ab": "https://ex.org/x", "bb": "https://ex.org/x" }""");
        Assert.Equal("ab", one.CompactIri("https://ex.org/x"));
        Assert.Equal("ab", two.CompactIri("https://ex.org/x"));
    }

    [Fact]
    public void Compaction_uses_the_shortest_compact_iri()
    {
        var context = FromJson("""{ "ex": "https://ex.org/", "exv": "https://ex.org/vocab/" }""");
        Assert.Equal("exv:speed", context.CompactIri("https://ex.org/vocab/speed"));
        Assert.Equal("ex:other/speed", context.CompactIri("https://ex.org/other/speed"));
        Assert.Equal("exv:speed", context.CompactIri("https://ex.org/vocab/speed"));
    }

    [Fact]
    public void A_vocab_suffix_that_is_a_term_is_not_used_for_compaction()
    {
        var context = FromJson("""{ "speed": "https://example.org/speed" }""");
        var compacted = context.CompactIri(Default + "speed");
        Assert.NotEqual("speed", compacted);
        Assert.Equal(Default + "speed", context.ExpandTerm(compacted));
    }

    [Fact]
    public void Only_prefix_terms_expand_compact_iris()
    {
        // JSON-LD 1.1: an expanded definition is a prefix only with "@prefix": true; a simple one only when its IRI ends in a gen-delim.
        var context = FromJson("""
            {
              "ex": { "@id": "https://ex.org/" },
              "pre": { "@id": "https://pre.org/", "@prefix": true },
              "dm": "https://ex.org/dm"
            }
            """);
        Assert.Equal("ex:foo", context.ExpandTerm("ex:foo"));
        Assert.Equal("https://pre.org/foo", context.ExpandTerm("pre:foo"));
        Assert.Equal("dm:foo", context.ExpandTerm("dm:foo"));
    }

    [Fact]
    public void Terms_may_use_prefixes_defined_later_in_the_same_object()
    {
        var context = FromJson("""{ "Street": "sdm:Street", "sdm": "https://smartdatamodels.org/" }""");
        Assert.Equal("https://smartdatamodels.org/Street", context.ExpandTerm("Street"));
    }

    [Fact]
    public void A_term_without_id_expands_against_the_vocab() =>
        Assert.Equal(Default + "speed", FromJson("""{ "speed": { "@type": "@vocab" } }""").ExpandTerm("speed"));

    [Fact]
    public void A_null_entry_clears_earlier_user_terms()
    {
        var context = FromJson("""[{ "X": "https://ex.org/X" }, null, { "Y": "https://ex.org/Y" }]""");
        Assert.Equal(Default + "X", context.ExpandTerm("X"));
        Assert.Equal("https://ex.org/Y", context.ExpandTerm("Y"));
    }

    [Fact]
    public void A_term_mapped_to_a_reserved_keyword_form_stays_undefined()
    {
        var context = FromJson("""[{ "X": "https://ex.org/X" }, { "X": "@future", "@ignored": "https://ex.org/I" }]""");
        Assert.Equal(Default + "X", context.ExpandTerm("X"));
        Assert.Null(context.GetTermDefinition("@ignored"));
    }

    [Fact]
    public void A_term_mapped_to_null_cannot_be_expanded()
    {
        var context = FromJson("""{ "X": null }""");
        AssertBadRequest(() => context.ExpandTerm("X"));
    }

    [Fact]
    public void Protected_user_terms_cannot_be_redefined_differently()
    {
        AssertBadRequest(() => FromJson("""[{ "@protected": true, "P": "https://ex.org/P" }, { "P": "https://other.org/P" }]"""));
        var same = FromJson("""[{ "@protected": true, "P": "https://ex.org/P" }, { "P": "https://ex.org/P" }]""");
        Assert.Equal("https://ex.org/P", same.ExpandTerm("P"));
        AssertBadRequest(() => FromJson("""[{ "P": { "@id": "https://ex.org/P", "@protected": true } }, null]"""));
    }

    [Theory]
    [InlineData("""{ "address": { "@id": "https://schema.org/address", "@context": { "street": "https://schema.org/street" } } }""")]
    [InlineData("""{ "P": 42 }""")]
    [InlineData("""{ "P": ["https://ex.org/P"] }""")]
    [InlineData("""{ "P": { "@id": 42 } }""")]
    [InlineData("""{ "P": { "@id": "https://ex.org/P", "@type": 42 } }""")]
    [InlineData("""{ "P": { "@id": "https://ex.org/P", "@type": "_:b0" } }""")]
    [InlineData("""{ "P": { "@id": "https://ex.org/P", "@container": "@bag" } }""")]
    [InlineData("""{ "P": { "@id": "https://ex.org/P", "@unknown": 1 } }""")]
    [InlineData("""{ "P": { "@reverse": "https://ex.org/P" } }""")]
    [InlineData("""{ "@id": "https://ex.org/x" }""")]
    [InlineData("""{ "@context": { "P": "https://ex.org/P" } }""")]
    [InlineData("""{ "@version": 1.0 }""")]
    [InlineData("""{ "@import": "https://ex.org/ctx.jsonld" }""")]
    [InlineData("""{ "@vocab": 42 }""")]
    [InlineData("""{ "@vocab": "relative" }""")]
    [InlineData("""{ "a": "b:x", "b": "a:y" }""")]
    [InlineData("""{ "schema": "https://schema.org/", "schema:name": "https://other.org/name" }""")]
    [InlineData("""{ "alias": "@context" }""")]
    [InlineData("""{ "": "https://ex.org/empty" }""")]
    [InlineData("""42""")]
    [InlineData("""[[{ "P": "https://ex.org/P" }]]""")]
    public void Invalid_user_contexts_are_bad_request_data(string json) =>
        AssertBadRequest(() => FromJson(json));

    [Fact]
    public void A_non_core_url_needs_the_resolver() =>
        AssertBadRequest(() => LdContext.Create(JsonValue.Create("https://example.org/context.jsonld")));

    [Theory]
    [InlineData("https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.3.jsonld", Default + "attributeCount", Default + "VocabProperty")]
    [InlineData("https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.4.jsonld", Default + "attributeCount", Default + "VocabProperty")]
    [InlineData("https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.6.jsonld", Ngsi + "attributeCount", Ngsi + "VocabProperty")]
    [InlineData("https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld", Ngsi + "attributeCount", Ngsi + "VocabProperty")]
    [InlineData("https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld", Ngsi + "attributeCount", Ngsi + "VocabProperty")]
    [InlineData("https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld", Ngsi + "attributeCount", Ngsi + "VocabProperty")]
    [InlineData("http://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.3.jsonld", Default + "attributeCount", Default + "VocabProperty")]
    public void Each_core_url_uses_its_embedded_version(string url, string attributeCount, string vocabProperty)
    {
        var context = LdContext.Create(JsonValue.Create(url));
        Assert.Equal(attributeCount, context.ExpandTerm("attributeCount"));
        Assert.Equal(vocabProperty, context.ExpandTerm("VocabProperty"));
        Assert.Equal(Ngsi + "location", context.ExpandTerm("location"));
        Assert.Equal([url], context.Urls);
    }

    [Fact]
    public void The_core_context_alone_advertises_the_v18_url()
    {
        Assert.Equal(["https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"], LdContext.Core.Urls);
        Assert.Equal("https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld", LdContext.Core.ContextNode.GetValue<string>());
        Assert.Same(LdContext.Core, LdContext.Create(null));
    }

    [Fact]
    public void Context_node_echoes_the_given_value_as_a_fresh_node_each_time()
    {
        var given = JsonNode.Parse("""[{ "Vehicle": "https://uri.fiware.org/ns/dataModels#Vehicle" }, "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.6.jsonld"]""");
        var context = LdContext.Create(given);
        Assert.True(JsonNode.DeepEquals(given, context.ContextNode));

        // Two responses can each carry it without "node already has a parent".
        var first = new JsonObject { ["@context"] = context.ContextNode };
        var second = new JsonObject { ["@context"] = context.ContextNode };
        Assert.True(JsonNode.DeepEquals(first, second));

        // Later changes to the caller's node do not leak into the context.
        given!.AsArray().Add("https://example.org/other.jsonld");
        Assert.Equal(2, context.ContextNode.AsArray().Count);
        Assert.Equal(["https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.6.jsonld"], context.Urls);
    }

    [Fact]
    public void Urls_append_the_core_url_when_the_request_named_none()
    {
        var context = FromJson("""{ "Vehicle": "https://uri.fiware.org/ns/dataModels#Vehicle" }""");
        Assert.Equal(["https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"], context.Urls);
    }
}
