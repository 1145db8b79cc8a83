using System.Text.Json.Nodes;
using CityOS.NgsiLd.Model;
using static CityOS.NgsiLd.Tests.Model.ModelTestData;

namespace CityOS.NgsiLd.Tests.Model;

public sealed class EntityMergeTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset T1 = new(2026, 1, 2, 3, 4, 5, 123, 456, TimeSpan.Zero);
    private const string S0 = "2026-01-01T00:00:00.000000Z";
    private const string S1 = "2026-01-02T03:04:05.123456Z";

    private static JsonObject Stored() => Timestamps.Stamp(ParseEntity("""
        { "id":"urn:a:1", "type":"Car", "scope":"/a",
          "speed": [ {"value":1,"unitCode":"KMH","accuracy":0.5}, {"value":2,"datasetId":"urn:ds:gps"} ],
          "owner": {"object":"urn:p:1"},
          "address": {"value":{"city":"X","street":"Main","zip":{"code":1,"ext":2}}},
          "name": {"languageMap":{"en":"Car","fr":"Voiture"}} }
        """), T0);

    [Fact]
    public void Timestamps_format_is_utc_with_six_fraction_digits()
    {
        Assert.Equal(S1, Timestamps.Format(T1));
        Assert.Equal("2026-01-01T23:00:00.000000Z", Timestamps.Format(new DateTimeOffset(2026, 1, 2, 1, 0, 0, TimeSpan.FromHours(2))));
    }

    [Theory]
    [InlineData("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z")]
    [InlineData("2026-01-01T00:00:00.123456Z", "2026-01-01T00:00:00.123456Z")]
    [InlineData("2026-01-01T00:00:00,5Z", "2026-01-01T00:00:00.5Z")]
    [InlineData("2026-01-01T00:00:00.1234567Z", null)]
    [InlineData("2026-01-01T00:00:00", null)]
    [InlineData("2026-01-01T00:00:00.Z", null)]
    [InlineData("2026-02-30T00:00:00Z", null)]
    [InlineData("2026-01-01 00:00:00Z", null)]
    public void Date_times_are_validated_and_normalized(string text, string? expected) =>
        Assert.Equal(expected, Timestamps.NormalizeDateTime(text));

    [Fact]
    public void Stamp_sets_timestamps_everywhere()
    {
        var e = Stored();
        Assert.Equal(S0, (string?)e["createdAt"]);
        Assert.Equal(S0, (string?)Instance(e, "speed", 1)["modifiedAt"]);
        Assert.Equal(S0, (string?)Instance(e, "speed")[Vocab + "accuracy"]![0]!["createdAt"]);
    }

    [Fact]
    public void Append_adds_and_replaces_whole_instances_keeping_created_at()
    {
        var e = Stored();
        var before = e.ToJsonString();
        var u = EntityMerge.Append(e, ParseFragment("""{"speed":{"value":9},"color":"red"}"""), noOverwrite: false, T1);
        Assert.Equal(before, e.ToJsonString());
        Assert.Equal([Vocab + "speed", Vocab + "color"], u.Updated);
        Assert.Equal([Vocab + "color"], u.Created);
        var speed = Instance(u.Entity, "speed");
        AssertJson($$"""{"type":"Property","value":9,"createdAt":"{{S0}}","modifiedAt":"{{S1}}"}""", speed);
        // The gps instance is another datasetId: untouched.
        Assert.Equal(2, (int?)Instance(u.Entity, "speed", 1)["value"]);
        Assert.Equal(S0, (string?)Instance(u.Entity, "speed", 1)["modifiedAt"]);
        Assert.Equal(S1, (string?)Instance(u.Entity, "color")["createdAt"]);
        Assert.Equal(S0, (string?)u.Entity["createdAt"]);
        Assert.Equal(S1, (string?)u.Entity["modifiedAt"]);
    }

    [Fact]
    public void Append_with_no_overwrite_keeps_existing_attributes()
    {
        var u = EntityMerge.Append(Stored(), ParseFragment("""{"speed":{"value":9},"color":"red"}"""), noOverwrite: true, T1);
        Assert.Equal(1, (int?)Instance(u.Entity, "speed")["value"]);
        Assert.Equal([Vocab + "color"], u.Updated);
        var notUpdated = Assert.Single(u.NotUpdated);
        Assert.Equal(Vocab + "speed", notUpdated.AttributeIri);
    }

    [Fact]
    public void Append_with_a_new_dataset_id_adds_an_instance()
    {
        var u = EntityMerge.Append(Stored(), ParseFragment("""{"speed":{"value":7,"datasetId":"urn:ds:radar"}}"""), noOverwrite: true, T1);
        Assert.Equal(3, u.Entity[Vocab + "speed"]!.AsArray().Count);
        Assert.Empty(u.NotUpdated);
    }

    [Fact]
    public void Append_adds_types_and_replaces_scope_unless_no_overwrite()
    {
        var f = ParseFragment("""{"type":"Vehicle","scope":"/b"}""");
        var replaced = EntityMerge.Append(Stored(), f, noOverwrite: false, T1);
        AssertJson($$"""["{{Vocab}}Car","{{Vocab}}Vehicle"]""", replaced.Entity["type"]);
        AssertJson("""["/b"]""", replaced.Entity["scope"]);
        Assert.True(replaced.TypesChanged);
        var appended = EntityMerge.Append(Stored(), f, noOverwrite: true, T1);
        AssertJson("""["/a","/b"]""", appended.Entity["scope"]);
    }

    [Fact]
    public void Null_in_append_deletes_the_instance()
    {
        var u = EntityMerge.Append(Stored(), ParseFragment("""{"owner":"urn:ngsi-ld:null","speed":{"value":"urn:ngsi-ld:null","datasetId":"urn:ds:gps"}}"""), false, T1);
        Assert.False(u.Entity.ContainsKey(Vocab + "owner"));
        Assert.Equal([Vocab + "owner"], u.Deleted);
        Assert.Single(u.Entity[Vocab + "speed"]!.AsArray());
        Assert.DoesNotContain(Names.NgsiLdNull, u.Entity.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Update_existing_replaces_whole_attributes_and_reports_missing_ones()
    {
        var u = EntityMerge.UpdateExisting(Stored(), ParseFragment("""{"speed":{"value":3},"color":"red"}"""), T1);
        // Replaced whole: the accuracy sub-attribute and unitCode vanish.
        AssertJson($$"""{"type":"Property","value":3,"createdAt":"{{S0}}","modifiedAt":"{{S1}}"}""", Instance(u.Entity, "speed"));
        Assert.False(u.Entity.ContainsKey(Vocab + "color"));
        Assert.Equal([Vocab + "speed"], u.Updated);
        Assert.Equal(Vocab + "color", Assert.Single(u.NotUpdated).AttributeIri);
    }

    [Fact]
    public void Update_existing_with_unknown_dataset_id_is_not_updated()
    {
        var u = EntityMerge.UpdateExisting(Stored(), ParseFragment("""{"speed":{"value":3,"datasetId":"urn:ds:other"}}"""), T1);
        Assert.Empty(u.Updated);
        Assert.Single(u.NotUpdated);
        Assert.False(u.Changed);
        Assert.Equal(S0, (string?)u.Entity["modifiedAt"]);
    }

    [Fact]
    public void Merge_merges_members_sub_attributes_and_json_values()
    {
        var u = EntityMerge.Merge(Stored(), ParseFragment("""
            { "speed": {"value":4,"accuracy":{"value":0.7,"method":"gps"}},
              "address": {"value":{"street":"urn:ngsi-ld:null","zip":{"ext":3},"country":"VN"}},
              "name": {"languageMap":{"fr":"urn:ngsi-ld:null","vi":"Xe"}} }
            """), T1);
        var speed = Instance(u.Entity, "speed");
        Assert.Equal(4, (int?)speed["value"]);
        Assert.Equal("KMH", (string?)speed["unitCode"]);
        Assert.Equal(S0, (string?)speed["createdAt"]);
        Assert.Equal(S1, (string?)speed["modifiedAt"]);
        var accuracy = speed[Vocab + "accuracy"]![0]!.AsObject();
        Assert.Equal(0.7, (double?)accuracy["value"]);
        Assert.Equal(S0, (string?)accuracy["createdAt"]);
        Assert.Equal("gps", (string?)accuracy[Vocab + "method"]![0]!["value"]);
        AssertJson("""{"city":"X","zip":{"code":1,"ext":3},"country":"VN"}""", Instance(u.Entity, "address")["value"]);
        AssertJson("""{"en":"Car","vi":"Xe"}""", Instance(u.Entity, "name")["languageMap"]);
        Assert.Equal(2, (int?)Instance(u.Entity, "speed", 1)["value"]);
    }

    [Fact]
    public void Merge_null_deletes_attributes_instances_and_sub_attributes()
    {
        var u = EntityMerge.Merge(Stored(), ParseFragment("""
            { "owner":"urn:ngsi-ld:null", "speed": [{"value":5,"accuracy":"urn:ngsi-ld:null"},{"value":"urn:ngsi-ld:null","datasetId":"urn:ds:gps"}] }
            """), T1);
        Assert.False(u.Entity.ContainsKey(Vocab + "owner"));
        var speed = Assert.Single(u.Entity[Vocab + "speed"]!.AsArray())!.AsObject();
        Assert.False(speed.ContainsKey(Vocab + "accuracy"));
        Assert.Equal([Vocab + "owner"], u.Deleted);
    }

    [Fact]
    public void Merge_adds_types_replaces_scope_and_can_remove_it()
    {
        var u = EntityMerge.Merge(Stored(), ParseFragment("""{"type":["Car","Vehicle"],"scope":["/x","/y"]}"""), T1);
        AssertJson($$"""["{{Vocab}}Car","{{Vocab}}Vehicle"]""", u.Entity["type"]);
        AssertJson("""["/x","/y"]""", u.Entity["scope"]);
        var removed = EntityMerge.Merge(Stored(), ParseFragment("""{"scope":"urn:ngsi-ld:null"}"""), T1);
        Assert.False(removed.Entity.ContainsKey("scope"));
        Assert.True(removed.ScopeChanged);
    }

    [Fact]
    public void Merge_with_a_new_type_and_content_replaces_the_kind()
    {
        var u = EntityMerge.Merge(Stored(), ParseFragment("""{"address":{"type":"Relationship","object":"urn:addr:1"}}"""), T1);
        AssertJson($$"""{"type":"Relationship","createdAt":"{{S0}}","modifiedAt":"{{S1}}","object":"urn:addr:1"}""", Instance(u.Entity, "address"));
    }

    [Fact]
    public void Merge_with_key_values_keeps_the_stored_type()
    {
        var u = EntityMerge.Merge(Stored(), ParseFragment("""{"owner":"urn:p:2"}""", keyValues: true), T1, keyValues: true);
        var owner = Instance(u.Entity, "owner");
        Assert.Equal("Relationship", (string?)owner["type"]);
        Assert.Equal("urn:p:2", (string?)owner["object"]);
        Assert.False(owner.ContainsKey("value"));
    }

    [Fact]
    public void Merge_adds_new_attributes_stamped_now()
    {
        var u = EntityMerge.Merge(Stored(), ParseFragment("""{"color":{"value":"red","shade":{"value":"dark"}}}"""), T1);
        var color = Instance(u.Entity, "color");
        Assert.Equal(S1, (string?)color["createdAt"]);
        Assert.Equal(S1, (string?)color[Vocab + "shade"]![0]!["createdAt"]);
        Assert.Equal([Vocab + "color"], u.Created);
    }

    [Fact]
    public void Partial_attribute_update_overwrites_only_sent_members()
    {
        var fragment = EntityParser.ParseAttribute(Vocab + "speed", JsonNode.Parse("""{"value":10,"observedAt":"2026-01-02T00:00:00Z"}""")!, Ctx, PayloadKind.Fragment);
        Assert.True(EntityMerge.PartialAttributeUpdate(Stored(), Vocab + "speed", fragment, T1, out var u));
        var speed = Instance(u!.Entity, "speed");
        Assert.Equal(10, (int?)speed["value"]);
        Assert.Equal("KMH", (string?)speed["unitCode"]);
        Assert.True(speed.ContainsKey(Vocab + "accuracy"));
        Assert.Equal("2026-01-02T00:00:00Z", (string?)speed["observedAt"]);
        Assert.Equal(S1, (string?)speed["modifiedAt"]);
        Assert.Equal(S0, (string?)speed["createdAt"]);
        Assert.Equal(S1, (string?)u.Entity["modifiedAt"]);
    }

    [Fact]
    public void Partial_attribute_update_of_a_missing_attribute_or_instance_is_not_found()
    {
        var fragment = EntityParser.ParseAttribute(Vocab + "x", JsonNode.Parse("""{"value":1}""")!, Ctx, PayloadKind.Fragment);
        Assert.False(EntityMerge.PartialAttributeUpdate(Stored(), Vocab + "color", fragment, T1, out var none));
        Assert.Null(none);
        var other = EntityParser.ParseAttribute(Vocab + "x", JsonNode.Parse("""{"value":1,"datasetId":"urn:ds:other"}""")!, Ctx, PayloadKind.Fragment);
        Assert.False(EntityMerge.PartialAttributeUpdate(Stored(), Vocab + "speed", other, T1, out _));
    }

    [Fact]
    public void Partial_attribute_update_with_null_deletes_the_instance()
    {
        var fragment = EntityParser.ParseAttribute(Vocab + "owner", JsonNode.Parse("\"urn:ngsi-ld:null\"")!, Ctx, PayloadKind.Fragment);
        Assert.True(EntityMerge.PartialAttributeUpdate(Stored(), Vocab + "owner", fragment, T1, out var u));
        Assert.False(u!.Entity.ContainsKey(Vocab + "owner"));
        Assert.Equal([Vocab + "owner"], u.Deleted);
    }

    [Fact]
    public void Replace_keeps_only_the_entity_created_at()
    {
        var replacement = ParseEntity("""{"id":"urn:a:1","type":"Car","color":"red"}""");
        var r = EntityMerge.Replace(Stored(), replacement, T1);
        Assert.Equal(S0, (string?)r["createdAt"]);
        Assert.Equal(S1, (string?)r["modifiedAt"]);
        Assert.False(r.ContainsKey(Vocab + "speed"));
        Assert.Equal(S1, (string?)Instance(r, "color")["createdAt"]);
    }

    [Fact]
    public void Rewriting_the_same_value_is_an_update_but_not_a_content_change()
    {
        var same = EntityMerge.Merge(Stored(), ParseFragment("""{"owner":{"object":"urn:p:1"},"speed":{"value":1}}"""), T1);
        Assert.Equal([Vocab + "owner", Vocab + "speed"], same.Updated);
        Assert.Empty(same.ContentChanged);
        var different = EntityMerge.UpdateExisting(Stored(), ParseFragment("""{"owner":{"object":"urn:p:2"}}"""), T1);
        Assert.Equal([Vocab + "owner"], different.ContentChanged);
    }
}
