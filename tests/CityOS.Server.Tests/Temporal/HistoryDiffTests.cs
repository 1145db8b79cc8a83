using System.Text.Json.Nodes;
using CityOS.Broker.Changes;
using CityOS.Broker.Storage;
using CityOS.Broker.Temporal;

namespace CityOS.Server.Tests.Temporal;

/// <summary>Which history rows an entity change yields.</summary>
public sealed class HistoryDiffTests
{
    private const string Speed = "https://example.org/speed";
    private const string Name = "https://example.org/name";
    private static readonly DateTimeOffset At = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);

    private static JsonObject Entity(params (string Attribute, JsonObject[] Instances)[] attributes)
    {
        var entity = new JsonObject { ["id"] = "urn:ngsi-ld:Car:1", ["type"] = new JsonArray("https://example.org/Car") };
        foreach (var (attribute, instances) in attributes)
        {
            entity[attribute] = new JsonArray([.. instances.Select(i => (JsonNode)i.DeepClone())]);
        }

        return entity;
    }

    private static JsonObject Property(JsonNode value, string? datasetId = null, string modifiedAt = "2026-11-23T11:00:00.000000Z")
    {
        var instance = new JsonObject { ["type"] = "Property", ["value"] = value, ["createdAt"] = "2026-11-23T10:00:00.000000Z", ["modifiedAt"] = modifiedAt };
        if (datasetId is not null)
        {
            instance["datasetId"] = datasetId;
        }

        return instance;
    }

    private static (List<TemporalRow> Rows, List<TemporalEntityTypes> Types) Diff(EntityChangeKind kind, JsonObject? before, JsonObject? after)
    {
        var rows = new List<TemporalRow>();
        var types = new List<TemporalEntityTypes>();
        HistoryDiff.Collect(new EntityChange("", "urn:ngsi-ld:Car:1", kind, before, after, At), rows, types);
        return (rows, types);
    }

    [Fact]
    public void Creation_yields_every_instance_and_the_types()
    {
        var (rows, types) = Diff(EntityChangeKind.Created, null, Entity((Speed, [Property(1), Property(2, "urn:ngsi-ld:dataset:b")]), (Name, [Property("a")])));
        Assert.Equal(3, rows.Count);
        Assert.Equal([null, "urn:ngsi-ld:dataset:b"], rows.Where(r => r.Attribute == Speed).Select(r => r.DatasetId));
        Assert.Equal(["https://example.org/Car"], Assert.Single(types).Types);
    }

    [Fact]
    public void An_update_yields_only_the_instances_that_changed()
    {
        var before = Entity((Speed, [Property(1), Property(5, "urn:ngsi-ld:dataset:b")]), (Name, [Property("a")]));
        var after = Entity((Speed, [Property(2, modifiedAt: "2026-11-23T12:00:00.000000Z"), Property(5, "urn:ngsi-ld:dataset:b")]), (Name, [Property("a")]));
        var (rows, types) = Diff(EntityChangeKind.Updated, before, after);
        var row = Assert.Single(rows);
        Assert.Equal((Speed, null, 2.0), (row.Attribute, row.DatasetId, row.Number));
        Assert.Empty(types);
    }

    [Fact]
    public void Rewriting_the_same_value_still_yields_an_instance_because_modifiedAt_moved()
    {
        var before = Entity((Speed, [Property(1)]));
        var after = Entity((Speed, [Property(1, modifiedAt: "2026-11-23T12:00:00.000000Z")]));
        Assert.Single(Diff(EntityChangeKind.Updated, before, after).Rows);
    }

    [Fact]
    public void A_removed_instance_yields_a_deletion_with_deletedAt_and_the_null_value()
    {
        var before = Entity((Speed, [Property(1), Property(5, "urn:ngsi-ld:dataset:b")]));
        var after = Entity((Speed, [Property(1)]));
        var row = Assert.Single(Diff(EntityChangeKind.Updated, before, after).Rows);
        Assert.Equal("urn:ngsi-ld:dataset:b", row.DatasetId);
        Assert.Equal(TemporalTime.ToMicros(At), row.DeletedAt);
        Assert.Null(row.Number);
        Assert.Equal("urn:ngsi-ld:null", (string?)JsonNode.Parse(row.Instance)!["value"]);
    }

    [Fact]
    public void Deleting_the_entity_yields_a_deletion_per_instance()
    {
        var before = Entity((Speed, [Property(1), Property(5, "urn:ngsi-ld:dataset:b")]), (Name, [Property("a")]));
        var (rows, _) = Diff(EntityChangeKind.Deleted, before, null);
        Assert.Equal(3, rows.Count);
        Assert.All(rows, r => Assert.NotNull(r.DeletedAt));
    }

    [Fact]
    public void A_type_change_records_the_new_types()
    {
        var before = Entity((Speed, [Property(1)]));
        var after = Entity((Speed, [Property(1)]));
        after["type"] = new JsonArray("https://example.org/Car", "https://example.org/Taxi");
        var (rows, types) = Diff(EntityChangeKind.Updated, before, after);
        Assert.Empty(rows);
        Assert.Equal(2, Assert.Single(types).Types.Count);
    }

    [Fact]
    public void Rows_keep_times_in_columns_and_a_compact_instance_without_them()
    {
        var instance = Property(true);
        instance["observedAt"] = "2026-11-23T09:30:00Z";
        instance["unitCode"] = "KMH";
        var row = HistoryDiff.RowOf("urn:ngsi-ld:Car:1", Speed, instance, 0);
        Assert.Equal(TemporalTime.Parse("2026-11-23T09:30:00Z"), row.ObservedAt);
        Assert.Equal(TemporalTime.Parse("2026-11-23T10:00:00Z"), row.CreatedAt);
        Assert.Equal(1.0, row.Number);
        Assert.Equal("""{"type":"Property","value":true,"unitCode":"KMH"}""", row.Instance);
    }

    [Theory]
    [InlineData("\"text\"")]
    [InlineData("[1,2]")]
    [InlineData("{\"a\":1}")]
    public void Only_numbers_and_booleans_aggregate(string value)
    {
        Assert.Null(HistoryDiff.NumberOf(Property(JsonNode.Parse(value)!)));
    }
}
