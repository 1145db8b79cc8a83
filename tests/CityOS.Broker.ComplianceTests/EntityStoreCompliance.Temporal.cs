using System.Text.Json.Nodes;
using CityOS.Broker.Changes;
using CityOS.Broker.Storage;
using CityOS.Broker.Temporal;

namespace CityOS.Broker.ComplianceTests;

/// <summary>The temporal store of each backend: history rows in the entity transaction, windows, lastN, aggregation.</summary>
public abstract partial class EntityStoreCompliance
{
    private const string Temp = Ns + "temperature";
    private const long Hour = 3_600_000_000;

    // 2026-01-01T00:00:00Z in microseconds since the epoch.
    private const long T0 = 1_767_225_600_000_000;

    /// <summary>The temporal store kept in <paramref name="store"/>'s storage.</summary>
    protected abstract ITemporalStore TemporalOf(IEntityStore store);

    private ITemporalStore Temporal => TemporalOf(Store);

    private static TemporalRow Row(string entity, double? value, long? observedAt, string? dataset = null, string attribute = Temp, long? recorded = null) =>
        new(entity, attribute, dataset, observedAt, recorded ?? T0, recorded ?? T0, null, value,
            new JsonObject { ["type"] = "Property", ["value"] = value }.ToJsonString());

    private Task<bool> AppendAsync(string tenant, params TemporalRow[] rows) =>
        Store.WriteAsync(tenant, createTenant: true, async (s, ct) =>
        {
            await Temporal.AppendAsync(s, [], rows, ct);
            return true;
        }, None);

    private Task<IReadOnlyList<StoredInstance>> InstancesAsync(string entity, TemporalWindow window, int limit = 100, bool newestFirst = false, string tenant = "") =>
        Temporal.GetInstancesAsync(tenant, entity, Temp, window, limit, newestFirst, None);

    private static TemporalWindow Between(long? from, long? to) => new(TemporalProperty.ObservedAt, from, to);

    [Fact]
    public async Task Temporal_instances_read_back_in_time_order_within_half_open_windows()
    {
        await AppendAsync("", Row("urn:ngsi-ld:S:1", 3, T0 + (2 * Hour)), Row("urn:ngsi-ld:S:1", 1, T0), Row("urn:ngsi-ld:S:1", 2, T0 + Hour), Row("urn:ngsi-ld:S:1", 9, null));

        var all = await InstancesAsync("urn:ngsi-ld:S:1", TemporalWindow.All);
        // The one without observedAt does not match an observedAt window.
        Assert.Equal([T0, T0 + Hour, T0 + (2 * Hour)], all.Select(i => i.ObservedAt!.Value));
        Assert.Equal(3, all.Select(i => i.InstanceId).Distinct().Count());
        Assert.Equal([T0 + Hour], (await InstancesAsync("urn:ngsi-ld:S:1", Between(T0 + Hour, T0 + (2 * Hour)))).Select(i => i.ObservedAt!.Value));
        Assert.Equal([T0 + (2 * Hour), T0 + Hour], (await InstancesAsync("urn:ngsi-ld:S:1", TemporalWindow.All, limit: 2, newestFirst: true)).Select(i => i.ObservedAt!.Value));
        Assert.Equal(4, (await InstancesAsync("urn:ngsi-ld:S:1", new TemporalWindow(TemporalProperty.ModifiedAt, null, null))).Count);
        Assert.Empty(await InstancesAsync("urn:ngsi-ld:S:2", TemporalWindow.All));
    }

    [Fact]
    public async Task Temporal_rows_of_a_failed_transaction_are_not_kept()
    {
        await Assert.ThrowsAsync<InvalidOperationException>(() => Store.WriteAsync<bool>("", createTenant: true, async (s, ct) =>
        {
            await Temporal.AppendAsync(s, [new TemporalEntityTypes("urn:ngsi-ld:S:1", [Sensor])], [Row("urn:ngsi-ld:S:1", 1, T0)], ct);
            throw new InvalidOperationException("abort");
        }, None));

        Assert.Empty(await InstancesAsync("urn:ngsi-ld:S:1", TemporalWindow.All));
        Assert.Null(await Temporal.GetEntityTypesAsync("", "urn:ngsi-ld:S:1", None));
    }

    [Fact]
    public async Task Temporal_keys_made_by_undone_or_deleted_writes_are_not_reused_by_mistake()
    {
        // A key made in a rolled-back transaction, then a key for another attribute (which may get the same number).
        await Assert.ThrowsAsync<InvalidOperationException>(() => Store.WriteAsync<bool>("", createTenant: true, async (s, ct) =>
        {
            await Temporal.AppendAsync(s, [], [Row("urn:ngsi-ld:S:1", 1, T0)], ct);
            throw new InvalidOperationException("abort");
        }, None));
        await AppendAsync("", Row("urn:ngsi-ld:S:2", 2, T0));
        await AppendAsync("", Row("urn:ngsi-ld:S:1", 3, T0));

        // A deleted history's keys, then new attributes, then the deleted one again.
        await Store.WriteAsync("", false, (s, ct) => Temporal.DeleteEntityAsync(s, "urn:ngsi-ld:S:2", ct), None);
        await AppendAsync("", Row("urn:ngsi-ld:S:3", 4, T0));
        await AppendAsync("", Row("urn:ngsi-ld:S:2", 5, T0));

        double Value(StoredInstance i) => (double)JsonNode.Parse(i.Instance)!["value"]!;
        Assert.Equal([3.0], (await InstancesAsync("urn:ngsi-ld:S:1", TemporalWindow.All)).Select(Value));
        Assert.Equal([5.0], (await InstancesAsync("urn:ngsi-ld:S:2", TemporalWindow.All)).Select(Value));
        Assert.Equal([4.0], (await InstancesAsync("urn:ngsi-ld:S:3", TemporalWindow.All)).Select(Value));
    }

    [Fact]
    public async Task Temporal_history_is_per_tenant()
    {
        await AppendAsync("alpha", Row("urn:ngsi-ld:S:1", 1, T0));
        Assert.Single(await InstancesAsync("urn:ngsi-ld:S:1", TemporalWindow.All, tenant: "alpha"));
        Assert.Empty(await InstancesAsync("urn:ngsi-ld:S:1", TemporalWindow.All));
        Assert.Empty(await InstancesAsync("urn:ngsi-ld:S:1", TemporalWindow.All, tenant: "nosuchtenant"));
    }

    [Fact]
    public async Task Temporal_aggregation_buckets_numbers_per_period_and_dataset()
    {
        // Readings 1..6 hourly; a text reading and a deletion that aggregation must count or skip correctly.
        var rows = Enumerable.Range(0, 6).Select(h => Row("urn:ngsi-ld:S:1", h + 1, T0 + (h * Hour))).ToList();
        rows.Add(new TemporalRow("urn:ngsi-ld:S:1", Temp, null, T0 + (30 * 60_000_000L), T0, T0, null, null, """{"type":"Property","value":"high"}"""));
        rows.Add(new TemporalRow("urn:ngsi-ld:S:1", Temp, null, T0 + (40 * 60_000_000L), T0, T0, T0, null, """{"type":"Property","value":"urn:ngsi-ld:null"}"""));
        rows.Add(Row("urn:ngsi-ld:S:1", 100, T0, dataset: "urn:ngsi-ld:dataset:b"));
        await AppendAsync("", [.. rows]);

        var buckets = await Temporal.AggregateAsync("", "urn:ngsi-ld:S:1", Temp, Between(T0, T0 + (6 * Hour)), 2 * Hour, T0, distinct: false, None);
        var main = buckets.Where(b => b.DatasetId is null).ToList();
        Assert.Equal([0L, 1, 2], main.Select(b => b.Bucket));
        Assert.Equal([3L, 2, 2], main.Select(b => b.Count));
        Assert.Equal([2L, 2, 2], main.Select(b => b.NumericCount));
        Assert.Equal([3.0, 7, 11], main.Select(b => b.Sum));
        Assert.Equal([5.0, 25, 61], main.Select(b => b.SumOfSquares));
        Assert.Equal([1.0, 3, 5], main.Select(b => b.Min!.Value));
        Assert.Equal([2.0, 4, 6], main.Select(b => b.Max!.Value));
        Assert.Equal(T0, main[0].First);
        Assert.Equal(T0 + Hour, main[0].Last);
        var other = Assert.Single(buckets, b => b.DatasetId == "urn:ngsi-ld:dataset:b");
        Assert.Equal(100.0, other.Max);

        var distinct = await Temporal.AggregateAsync("", "urn:ngsi-ld:S:1", Temp, Between(T0, T0 + (6 * Hour)), 2 * Hour, T0, distinct: true, None);
        Assert.Equal([3L, 2, 2], distinct.Where(b => b.DatasetId is null).Select(b => b.DistinctCount));

        var whole = await Temporal.AggregateAsync("", "urn:ngsi-ld:S:1", Temp, Between(T0 + Hour, null), 0, 0, distinct: false, None);
        var single = Assert.Single(whole);
        Assert.Equal(20.0, single.Sum);
        Assert.Equal(T0 + (5 * Hour), single.Last);
    }

    [Fact]
    public async Task Temporal_instances_can_be_replaced_and_deleted_one_by_one()
    {
        await AppendAsync("", Row("urn:ngsi-ld:S:1", 1, T0), Row("urn:ngsi-ld:S:1", 2, T0 + Hour));
        var (first, second) = (await InstancesAsync("urn:ngsi-ld:S:1", TemporalWindow.All)) switch { var l => (l[0], l[1]) };

        var replaced = await Store.WriteAsync("", false, (s, ct) => Temporal.ReplaceInstanceAsync(s, "urn:ngsi-ld:S:1", Temp, first.InstanceId, Row("urn:ngsi-ld:S:1", 10, T0 + (3 * Hour)), ct), None);
        Assert.True(replaced);
        var stored = await Store.WriteAsync("", false, (s, ct) => Temporal.GetInstanceAsync(s, "urn:ngsi-ld:S:1", Temp, first.InstanceId, ct), None);
        Assert.Equal(T0 + (3 * Hour), stored!.ObservedAt);
        Assert.Contains("10", stored.Instance, StringComparison.Ordinal);

        Assert.True(await Store.WriteAsync("", false, (s, ct) => Temporal.DeleteInstanceAsync(s, "urn:ngsi-ld:S:1", Temp, second.InstanceId, ct), None));
        Assert.False(await Store.WriteAsync("", false, (s, ct) => Temporal.DeleteInstanceAsync(s, "urn:ngsi-ld:S:1", Temp, second.InstanceId, ct), None));
        // The id must belong to the attribute named.
        Assert.False(await Store.WriteAsync("", false, (s, ct) => Temporal.DeleteInstanceAsync(s, "urn:ngsi-ld:S:1", Ns + "other", first.InstanceId, ct), None));
        Assert.Equal([first.InstanceId], (await InstancesAsync("urn:ngsi-ld:S:1", TemporalWindow.All)).Select(i => i.InstanceId));
    }

    [Fact]
    public async Task Temporal_attribute_and_entity_histories_can_be_deleted()
    {
        await Store.WriteAsync("", true, async (s, ct) =>
        {
            await Temporal.AppendAsync(
                s,
                [new TemporalEntityTypes("urn:ngsi-ld:S:1", [Sensor])],
                [Row("urn:ngsi-ld:S:1", 1, T0), Row("urn:ngsi-ld:S:1", 2, T0, dataset: "urn:ngsi-ld:dataset:b"), Row("urn:ngsi-ld:S:1", 3, T0, attribute: Speed)],
                ct);
            return true;
        }, None);
        Assert.Equal([Speed, Temp], (await Temporal.GetAttributesAsync("", "urn:ngsi-ld:S:1", None)).Order(StringComparer.Ordinal));
        Assert.Equal([Sensor], await Temporal.GetEntityTypesAsync("", "urn:ngsi-ld:S:1", None));

        Assert.Equal(1, await Store.WriteAsync("", false, (s, ct) => Temporal.DeleteAttributeAsync(s, "urn:ngsi-ld:S:1", Temp, "urn:ngsi-ld:dataset:b", false, ct), None));
        Assert.Equal([(double?)null], (await InstancesAsync("urn:ngsi-ld:S:1", TemporalWindow.All)).Select(i => i.DatasetId is null ? (double?)null : 0));
        Assert.Equal(1, await Store.WriteAsync("", false, (s, ct) => Temporal.DeleteAttributeAsync(s, "urn:ngsi-ld:S:1", Temp, null, true, ct), None));
        Assert.Equal([Speed], await Temporal.GetAttributesAsync("", "urn:ngsi-ld:S:1", None));

        Assert.True(await Store.WriteAsync("", false, (s, ct) => Temporal.DeleteEntityAsync(s, "urn:ngsi-ld:S:1", ct), None));
        Assert.Empty(await Temporal.GetAttributesAsync("", "urn:ngsi-ld:S:1", None));
        Assert.Null(await Temporal.GetEntityTypesAsync("", "urn:ngsi-ld:S:1", None));
        Assert.False(await Store.WriteAsync("", false, (s, ct) => Temporal.DeleteEntityAsync(s, "urn:ngsi-ld:S:1", ct), None));
    }

    [Fact]
    public async Task Temporal_purge_removes_only_the_tenants_rows_recorded_before_the_cutoff()
    {
        await AppendAsync("", Row("urn:ngsi-ld:S:1", 1, T0, recorded: T0), Row("urn:ngsi-ld:S:1", 2, T0 + Hour, recorded: T0 + (10 * Hour)));
        await AppendAsync("other", Row("urn:ngsi-ld:S:1", 1, T0, recorded: T0));

        Assert.Equal(1, await Store.WriteAsync("", false, (s, ct) => Temporal.PurgeAsync(s, T0 + Hour, 100, ct), None));
        Assert.Equal([2.0], (await InstancesAsync("urn:ngsi-ld:S:1", TemporalWindow.All)).Select(i => (double)JsonNode.Parse(i.Instance)!["value"]!));
        Assert.Single(await InstancesAsync("urn:ngsi-ld:S:1", TemporalWindow.All, tenant: "other"));
    }

    [Fact]
    public async Task Entity_writes_through_the_history_observer_keep_every_changed_instance()
    {
        var service = new EntityService(Store, TimeProvider.System, [new HistoryObserver(Temporal)]);
        var entity = Entity("urn:ngsi-ld:Vehicle:h1", Vehicle, (Speed, 10));
        entity[Speed]![0]!["observedAt"] = "2026-01-01T00:00:00Z";
        await service.CreateAsync("", entity, None);
        var fragment = new JsonObject { [Speed] = new JsonArray(new JsonObject { ["type"] = "Property", ["value"] = 20, ["observedAt"] = "2026-01-01T01:00:00Z" }) };
        await service.UpdateAttributesAsync("", "urn:ngsi-ld:Vehicle:h1", fragment, None);
        await service.DeleteAsync("", "urn:ngsi-ld:Vehicle:h1", None);

        var observed = await Temporal.GetInstancesAsync("", "urn:ngsi-ld:Vehicle:h1", Speed, TemporalWindow.All, 10, false, None);
        Assert.Equal([10.0, 20], observed.Select(i => (double)JsonNode.Parse(i.Instance)!["value"]!));
        var deletions = await Temporal.GetInstancesAsync("", "urn:ngsi-ld:Vehicle:h1", Speed, new TemporalWindow(TemporalProperty.DeletedAt, null, null), 10, false, None);
        Assert.Equal("urn:ngsi-ld:null", (string?)JsonNode.Parse(Assert.Single(deletions).Instance)!["value"]);
        Assert.Equal([Vehicle], await Temporal.GetEntityTypesAsync("", "urn:ngsi-ld:Vehicle:h1", None));
    }

    /// <summary>What the broker's history recorder does, without its options.</summary>
    private sealed class HistoryObserver(ITemporalStore temporal) : IEntityChangeObserver
    {
        public async ValueTask OnWriteAsync(string tenant, IEntityWriteSession session, IReadOnlyList<EntityChange> changes, CancellationToken cancellationToken)
        {
            var rows = new List<TemporalRow>();
            var types = new List<TemporalEntityTypes>();
            foreach (var change in changes)
            {
                HistoryDiff.Collect(change, rows, types);
            }

            await temporal.AppendAsync(session, types, rows, cancellationToken);
        }

        public void OnCommitted(string tenant, IReadOnlyList<EntityChange> changes)
        {
        }
    }
}
