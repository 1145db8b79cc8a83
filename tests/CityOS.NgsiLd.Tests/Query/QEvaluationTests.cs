using System.Text.Json.Nodes;
using CityOS.NgsiLd.JsonLd;
using CityOS.NgsiLd.Query;
using static CityOS.NgsiLd.Tests.Query.QueryFixtures;

namespace CityOS.NgsiLd.Tests.Query;

public sealed class QEvaluationTests
{
    [Theory]
    [InlineData("speed", true)]
    [InlineData("brand", true)]
    [InlineData("location", true)]
    [InlineData("missing", false)]
    [InlineData("speed.accuracy", true)]
    [InlineData("speed.missing", false)]
    [InlineData("speed.observedAt", true)]
    [InlineData("brand.observedAt", false)]
    [InlineData("address[city]", true)]
    [InlineData("address[zip]", false)]
    [InlineData("name[fr]", true)]
    [InlineData("name[it]", false)]
    public void Existence_term_matches_when_the_path_resolves(string q, bool expected) =>
        Assert.Equal(expected, Matches(q));

    [Theory]
    [InlineData("!missing", true)]
    [InlineData("!speed", false)]
    [InlineData("!speed.missing", true)]
    [InlineData("!address[zip]", true)]
    public void Negated_attribute_matches_when_the_path_does_not_resolve(string q, bool expected) =>
        Assert.Equal(expected, Matches(q));

    [Theory]
    [InlineData("speed==55", true)]
    [InlineData("speed==55.0", true)]
    [InlineData("speed==5.5e1", true)]
    [InlineData("speed==56", false)]
    [InlineData("speed!=56", true)]
    [InlineData("speed!=55", false)]
    [InlineData("speed>54", true)]
    [InlineData("speed>55", false)]
    [InlineData("speed>=55", true)]
    [InlineData("speed<56", true)]
    [InlineData("speed<55", false)]
    [InlineData("speed<=55", true)]
    [InlineData("speed<=-1", false)]
    [InlineData("speed.accuracy>0.5", true)]
    [InlineData("speed.accuracy<0.5", false)]
    public void Numbers_compare_numerically(string q, bool expected) => Assert.Equal(expected, Matches(q));

    [Theory]
    [InlineData("brand==\"Mercedes\"", true)]
    [InlineData("brand==\"mercedes\"", false)]
    [InlineData("brand!=\"Audi\"", true)]
    [InlineData("brand!=\"Mercedes\"", false)]
    [InlineData("brand>\"Audi\"", true)]
    [InlineData("brand<\"Audi\"", false)]
    [InlineData("brand>=\"Mercedes\"", true)]
    [InlineData("note==\"a;b|c \\\"quoted\\\"\"", true)]
    public void Strings_compare_by_ordinal_value(string q, bool expected) => Assert.Equal(expected, Matches(q));

    [Theory]
    [InlineData("electric==false", true)]
    [InlineData("electric==true", false)]
    [InlineData("electric!=true", true)]
    [InlineData("electric!=false", false)]
    public void Booleans_compare_for_equality(string q, bool expected) => Assert.Equal(expected, Matches(q));

    [Theory]
    [InlineData("speed==\"55\"", false)]
    [InlineData("speed!=\"55\"", true)]
    [InlineData("brand==1", false)]
    [InlineData("brand!=1", true)]
    [InlineData("electric==0", false)]
    [InlineData("electric!=0", true)]
    [InlineData("speed>\"1\"", false)]
    [InlineData("speed<\"zzz\"", false)]
    [InlineData("brand>1", false)]
    [InlineData("installed>2020", false)]
    public void Differing_types_never_match_equality_and_always_match_inequality(string q, bool expected) =>
        Assert.Equal(expected, Matches(q));

    [Theory]
    [InlineData("missing!=1")]
    [InlineData("missing!=\"x\"")]
    [InlineData("missing!~=\"x\"")]
    [InlineData("speed.missing!=1")]
    [InlineData("address[zip]!=\"1\"")]
    public void Inequality_needs_the_attribute_to_exist(string q) => Assert.False(Matches(q));

    [Theory]
    [InlineData("speed==50..60", true)]
    [InlineData("speed==55..60", true)]
    [InlineData("speed==50..55", true)]
    [InlineData("speed==56..60", false)]
    [InlineData("speed!=56..60", true)]
    [InlineData("speed!=50..60", false)]
    [InlineData("brand==\"A\"..\"N\"", true)]
    [InlineData("brand==\"N\"..\"Z\"", false)]
    [InlineData("lastService==2026-10-01T00:00:00Z..2026-12-01T00:00:00Z", true)]
    [InlineData("lastService==2026-11-02T00:00:00Z..2026-12-01T00:00:00Z", false)]
    [InlineData("installed==2020-01-01..2020-01-31", true)]
    [InlineData("installed==2020-02-01..2020-02-28", false)]
    [InlineData("speed==60..50", false)]
    public void Range_matches_inclusive_bounds(string q, bool expected) => Assert.Equal(expected, Matches(q));

    [Theory]
    [InlineData("speed==1,55,99", true)]
    [InlineData("speed==1,2,3", false)]
    [InlineData("speed!=1,2,3", true)]
    [InlineData("speed!=1,55", false)]
    [InlineData("brand==\"Audi\",\"Mercedes\"", true)]
    [InlineData("brand==\"Audi\",\"BMW\"", false)]
    [InlineData("tags==\"blue\",\"fast\"", true)]
    [InlineData("owner==urn:ngsi-ld:Person:9,urn:ngsi-ld:Person:1", true)]
    public void Value_list_matches_when_any_item_matches(string q, bool expected) => Assert.Equal(expected, Matches(q));

    [Theory]
    [InlineData("tags==\"red\"", true)]
    [InlineData("tags==\"fast\"", true)]
    [InlineData("tags==\"blue\"", false)]
    [InlineData("tags!=\"red\"", false)]
    [InlineData("tags!=\"blue\"", true)]
    [InlineData("readings==2", true)]
    [InlineData("readings==4", false)]
    [InlineData("readings>2", true)]
    [InlineData("readings>3", false)]
    [InlineData("readings==3..10", true)]
    public void Array_targets_match_when_they_contain_the_value(string q, bool expected) =>
        Assert.Equal(expected, Matches(q));

    [Theory]
    [InlineData("temperature==20", true)]
    [InlineData("temperature==30", true)]
    [InlineData("temperature==25", false)]
    [InlineData("temperature>25", true)]
    [InlineData("temperature<25", true)]
    [InlineData("temperature>30", false)]
    [InlineData("temperature.datasetId==\"urn:ngsi-ld:dataset:b\"", true)]
    [InlineData("temperature.datasetId==urn:ngsi-ld:dataset:c", false)]
    [InlineData("(temperature>25;temperature<25)", true)]
    [InlineData("temperature!=20", true)]
    [InlineData("temperature!=20,30", false)]
    public void Multi_instance_attribute_matches_when_any_instance_does(string q, bool expected) =>
        Assert.Equal(expected, Matches(q));

    [Theory]
    [InlineData("speed.observedAt==2026-11-23T09:59:00Z", true)]
    [InlineData("speed.observedAt==2026-11-23T09:59:00.000Z", true)]
    [InlineData("speed.observedAt>=2026-11-23T09:00:00Z", true)]
    [InlineData("speed.observedAt>2026-11-23T10:00:00Z", false)]
    [InlineData("speed.observedAt<2026-11-23T10:00:00+00:00", true)]
    [InlineData("speed.createdAt>2026-01-01T00:00:00Z", true)]
    [InlineData("speed.unitCode==\"KMH\"", true)]
    [InlineData("speed.unitCode==\"MTS\"", false)]
    [InlineData("lastService<2026-11-01T10:00:00.5Z", true)]
    [InlineData("lastService>\"2026-11-01T09:00:00.000Z\"", true)]
    [InlineData("installed>2019-12-31", true)]
    [InlineData("installed<2019-12-31", false)]
    [InlineData("installed==2020-01-15", true)]
    [InlineData("opensAt>08:00:00Z", true)]
    [InlineData("opensAt<08:00:00Z", false)]
    [InlineData("opensAt==08:30:00Z", true)]
    public void Dates_and_times_compare_temporally(string q, bool expected) => Assert.Equal(expected, Matches(q));

    [Theory]
    [InlineData("lastService==2026-11-01", false)]
    [InlineData("installed==2020-01-15T00:00:00Z", false)]
    [InlineData("installed>2020-01-01T00:00:00Z", false)]
    [InlineData("opensAt>2020-01-01", false)]
    public void Date_datetime_and_time_are_different_types(string q, bool expected) =>
        Assert.Equal(expected, Matches(q));

    [Theory]
    [InlineData("brand~=\"Merc.*\"", true)]
    [InlineData("brand~=\"^merc\"", false)]
    [InlineData("brand~=\"(?i)^merc\"", true)]
    [InlineData("brand~=Merc", true)]
    [InlineData("brand~=^(Audi|Mercedes)$", true)]
    [InlineData("brand!~=\"Audi\"", true)]
    [InlineData("brand!~=\"Merc\"", false)]
    [InlineData("speed~=\"5\"", false)]
    [InlineData("speed!~=\"5\"", false)]
    [InlineData("tags~=\"^f\"", true)]
    [InlineData("tags!~=\"^r\"", false)]
    [InlineData("name~=\"^Auto\"", true)]
    [InlineData("name[en]~=\"^Auto\"", false)]
    public void Regex_operators_only_match_strings(string q, bool expected) => Assert.Equal(expected, Matches(q));

    [Fact]
    public void Unquoted_regex_stops_at_a_top_level_separator()
    {
        Assert.True(Matches("brand~=^Merc;speed==55"));
        Assert.False(Matches("brand~=^Merc;speed==56"));
        Assert.True(Matches("(brand~=(M|A)erc)"));
    }

    [Theory]
    [InlineData("address[city]==\"Berlin\"", true)]
    [InlineData("address[city]==\"Paris\"", false)]
    [InlineData("address[street.number]==5", true)]
    [InlineData("address[street][number]>4", true)]
    [InlineData("address[street.name]~=\"Linden$\"", true)]
    [InlineData("address[street.zip]==5", false)]
    [InlineData("address[city.x]==\"Berlin\"", false)]
    [InlineData("rawdata[airquality.particulate]==40", true)]
    [InlineData("rawdata[airquality][particulate]>50", false)]
    [InlineData("rawdata[label]==\"x\"", true)]
    [InlineData("location[type]==\"Point\"", true)]
    [InlineData("location[coordinates]==8", true)]
    public void Json_key_paths_enter_compound_values(string q, bool expected) => Assert.Equal(expected, Matches(q));

    [Fact]
    public void Json_keys_are_not_expanded()
    {
        var path = ((QComparison)Parse("address[city]==\"Berlin\"")).Path;
        Assert.Equal(["city"], path.JsonKeys);
        Assert.Equal(D + "address", path.Attribute);
    }

    [Theory]
    [InlineData("name[fr]==\"Autobus\"", true)]
    [InlineData("name[en]==\"Autobus\"", false)]
    [InlineData("name[*]==\"Autobus\"", true)]
    [InlineData("name[*]==\"Car\"", false)]
    [InlineData("name==\"Bus\"", true)]
    [InlineData("name[de]==\"Omnibus\"", true)]
    [InlineData("name[*]!=\"Bus\"", false)]
    [InlineData("name[fr]!=\"Bus\"", true)]
    [InlineData("name[it]!=\"Bus\"", false)]
    [InlineData("name[fr]>\"A\"", true)]
    [InlineData("name[en.x]==\"Bus\"", false)]
    public void Language_selectors_pick_languages_of_a_LanguageProperty(string q, bool expected) =>
        Assert.Equal(expected, Matches(q));

    [Theory]
    [InlineData("owner==urn:ngsi-ld:Person:1", true)]
    [InlineData("owner==\"urn:ngsi-ld:Person:1\"", true)]
    [InlineData("owner==urn:ngsi-ld:Person:2", false)]
    [InlineData("owner!=urn:ngsi-ld:Person:2", true)]
    [InlineData("owner!=urn:ngsi-ld:Person:1", false)]
    [InlineData("passengers==urn:ngsi-ld:Person:3", true)]
    [InlineData("passengers==urn:ngsi-ld:Person:1", false)]
    [InlineData("stops==urn:ngsi-ld:Stop:2", true)]
    [InlineData("stops==urn:ngsi-ld:Stop:3", false)]
    [InlineData("stops!=urn:ngsi-ld:Stop:1", false)]
    public void Relationships_compare_as_uris(string q, bool expected) => Assert.Equal(expected, Matches(q));

    [Theory]
    [InlineData("owner>\"urn:a\"")]
    [InlineData("owner<\"urn:z\"")]
    [InlineData("owner~=\"Person\"")]
    [InlineData("owner!~=\"Nobody\"")]
    [InlineData("stops>=\"a\"")]
    [InlineData("owner==\"a\"..\"z\"")]
    public void Relationships_only_answer_equality_operators(string q) => Assert.False(Matches(q));

    [Theory]
    [InlineData("category==\"commercial\"", true)]
    [InlineData("category==commercial:x", false)]
    [InlineData("category==\"private\"", false)]
    [InlineData("category!=\"private\"", true)]
    [InlineData("category==\"https://uri.etsi.org/ngsi-ld/default-context/public\"", true)]
    [InlineData("fuel==\"diesel\"", true)]
    [InlineData("fuel!=\"diesel\"", false)]
    [InlineData("fuel==\"petrol\",\"diesel\"", true)]
    [InlineData("fuel>\"a\"", false)]
    public void Vocab_values_are_expanded_before_comparing(string q, bool expected) =>
        Assert.Equal(expected, Matches(q));

    [Theory]
    [InlineData("speed==55;brand==\"Mercedes\"", true)]
    [InlineData("speed==55;brand==\"Audi\"", false)]
    [InlineData("speed==1|brand==\"Mercedes\"", true)]
    [InlineData("speed==1|brand==\"Audi\"", false)]
    [InlineData("speed==1;brand==\"Audi\"|electric==false", true)]
    [InlineData("electric==false|speed==1;brand==\"Audi\"", true)]
    [InlineData("speed==1;(brand==\"Audi\"|electric==false)", false)]
    [InlineData("(speed==1|speed==55);(brand==\"Audi\"|electric==false)", true)]
    [InlineData("((speed>=50;speed<=60)|missing)", true)]
    [InlineData("(temperature>=20;temperature<=25)|speed<=10", true)]
    public void And_binds_tighter_than_or_and_parentheses_win(string q, bool expected) =>
        Assert.Equal(expected, Matches(q));

    [Fact]
    public void Whitespace_between_tokens_is_tolerated() =>
        Assert.True(Matches(" ( speed >= 50 ; brand == \"Mercedes\" ) | missing "));

    [Fact]
    public void Values_built_in_code_compare_like_parsed_values()
    {
        var entity = new JsonObject
        {
            ["id"] = "urn:ngsi-ld:T:1",
            ["type"] = new JsonArray("https://example.org/T"),
            [D + "count"] = new JsonArray(new JsonObject { ["type"] = "Property", ["value"] = 7 }),
            [D + "big"] = new JsonArray(new JsonObject { ["type"] = "Property", ["value"] = 5_000_000_000L }),
            [D + "ratio"] = new JsonArray(new JsonObject { ["type"] = "Property", ["value"] = 0.25m }),
            [D + "label"] = new JsonArray(new JsonObject { ["type"] = "Property", ["value"] = "hello" }),
            [D + "flag"] = new JsonArray(new JsonObject { ["type"] = "Property", ["value"] = true }),
        };

        Assert.True(Parse("count==7;count>6.5;big>4e9;ratio==0.25;label==\"hello\";flag==true").Matches(entity));
        Assert.False(Parse("count==\"7\"").Matches(entity));
    }

    [Fact]
    public void Single_instance_object_is_tolerated_where_an_array_is_expected()
    {
        var entity = new JsonObject
        {
            ["id"] = "urn:ngsi-ld:T:1",
            [D + "speed"] = new JsonObject { ["type"] = "Property", ["value"] = 3 },
        };

        Assert.True(Parse("speed==3").Matches(entity));
    }

    [Fact]
    public void Sub_attribute_instances_are_searched_too()
    {
        var entity = JsonNode.Parse($$"""
        {
          "id": "urn:ngsi-ld:T:1",
          "{{D}}speed": [
            { "type": "Property", "value": 1, "{{D}}accuracy": [{ "type": "Property", "value": 0.1 }] },
            { "type": "Property", "value": 2, "datasetId": "urn:x", "{{D}}accuracy": [{ "type": "Property", "value": 0.8 }] }
          ]
        }
        """)!.AsObject();

        Assert.True(Parse("speed.accuracy>0.5").Matches(entity));
        Assert.False(Parse("speed.accuracy>0.9").Matches(entity));
    }

    [Fact]
    public void Catastrophic_regex_counts_as_no_match_for_both_operators()
    {
        var entity = new JsonObject
        {
            ["id"] = "urn:ngsi-ld:T:1",
            [D + "text"] = new JsonArray(new JsonObject { ["type"] = "Property", ["value"] = new string('a', 5000) + "!" }),
        };

        Assert.False(Parse("text~=\"^(a+)+$\"").Matches(entity));
        Assert.False(Parse("text!~=\"^(a+)+$\"").Matches(entity));
    }

    [Fact]
    public void Entity_without_attributes_matches_only_absence()
    {
        var entity = new JsonObject { ["id"] = "urn:ngsi-ld:T:1", ["type"] = new JsonArray(D + "T") };
        Assert.False(Parse("speed").Matches(entity));
        Assert.False(Parse("speed!=1").Matches(entity));
        Assert.True(Parse("!speed").Matches(entity));
    }

    [Fact]
    public void Names_that_are_already_iris_pass_through_expansion()
    {
        var entity = new JsonObject
        {
            ["id"] = "urn:ngsi-ld:T:1",
            ["urn:cityos:speed"] = new JsonArray(new JsonObject { ["type"] = "Property", ["value"] = 1 }),
        };

        Assert.Equal("urn:cityos:speed", ((QExists)QParser.Parse("urn:cityos:speed", LdContext.Core)).Path.Attribute);
        Assert.True(QParser.Parse("urn:cityos:speed==1", LdContext.Core).Matches(entity));
    }

    [Fact]
    public void Free_text_never_equals_a_vocab_value()
    {
        var literal = (QLiteral)((QComparison)Parse("fuel==\"diesel oil\"")).Value;
        Assert.Null(literal.VocabIri);
        Assert.False(Matches("fuel==\"diesel oil\""));
        Assert.True(Matches("fuel!=\"diesel oil\""));
    }

    [Theory]
    [InlineData("speed>50")]
    [InlineData("speed==1,2,55")]
    [InlineData("brand==\"Mercedes\"")]
    [InlineData("temperature==25..35")]
    [InlineData("owner==urn:ngsi-ld:Person:1")]
    [InlineData("passengers==urn:ngsi-ld:Person:3")]
    [InlineData("category==\"public\"")]
    [InlineData("name[de]==\"Omnibus\"")]
    [InlineData("name==\"Autobus\"")]
    [InlineData("address[street.number]==5")]
    [InlineData("speed.accuracy>0.5;!missing|electric==true")]
    public void Evaluation_allocates_nothing(string q)
    {
        // Evaluation runs for every candidate entity; a regression here multiplies by the result set.
        var expression = Parse(q);
        var entity = Vehicle();
        var expected = expression.Matches(entity);
        var mismatches = 0;
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            // No Assert inside the loop: xUnit's comparers allocate.
            mismatches += expression.Matches(entity) == expected ? 0 : 1;
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, mismatches);
        Assert.Equal(0, allocated);
    }
}
