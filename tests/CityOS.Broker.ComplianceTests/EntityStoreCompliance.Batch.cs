using System.Text.Json.Nodes;
using CityOS.Broker.Storage;
using CityOS.NgsiLd.Errors;

namespace CityOS.Broker.ComplianceTests;

/// <summary>
/// GetManyAsync and the batch operations built on it: every batch reads its entities up front in one call,
/// then runs its items one by one, so duplicates of an id must still see the earlier items' writes.
/// </summary>
public abstract partial class EntityStoreCompliance
{
    private EntityService Service() => new(Store, TimeProvider.System);

    private static BatchItem Item(JsonObject entity) => new((string)entity["id"]!, entity, null);

    private static int SpeedOf(JsonObject? entity) => (int)entity![Speed]![0]!["value"]!;

    [Fact]
    public async Task GetMany_returns_the_found_entities_by_id_and_leaves_out_missing_ones()
    {
        var a = Entity("urn:a", Vehicle, (Speed, 1));
        var b = WithLocation(Entity("urn:b", Building, (Owner, "x")), 1, 2);
        await InsertAllAsync(a, b);

        var found = await Store.WriteAsync("", false, (s, ct) => s.GetManyAsync(["urn:b", "urn:missing", "urn:a", "urn:b"], ct), None);

        Assert.Equal(["urn:a", "urn:b"], found.Keys.Order(StringComparer.Ordinal));
        AssertSameJson(a, found["urn:a"]);
        AssertSameJson(b, found["urn:b"]);
    }

    [Fact]
    public async Task GetMany_of_no_ids_or_only_unknown_ids_returns_an_empty_map()
    {
        await InsertAsync(Entity("urn:a", Vehicle));

        var none = await Store.WriteAsync("", false, (s, ct) => s.GetManyAsync([], ct), None);
        var unknown = await Store.WriteAsync("", false, (s, ct) => s.GetManyAsync(["urn:x", "urn:y"], ct), None);

        Assert.Empty(none);
        Assert.Empty(unknown);
    }

    [Fact]
    public async Task GetMany_sees_earlier_writes_of_the_same_work_and_later_writes_follow_it()
    {
        await InsertAllAsync(Entity("urn:a", Vehicle, (Speed, 1)), Entity("urn:b", Vehicle, (Speed, 1)));

        var seen = await Store.WriteAsync("", false, async (s, ct) =>
        {
            await s.InsertAsync(Entity("urn:c", Vehicle, (Speed, 3)), ct);
            await s.UpdateAsync(Entity("urn:a", Vehicle, (Speed, 2)), ct);
            await s.DeleteAsync("urn:b", ct);
            var first = await s.GetManyAsync(["urn:a", "urn:b", "urn:c"], ct);
            // Writes after the read: an update of an entity it found, an insert of one it did not.
            await s.UpdateAsync(Entity("urn:c", Vehicle, (Speed, 4)), ct);
            var inserted = await s.InsertAsync(Entity("urn:b", Vehicle, (Speed, 5)), ct);
            var second = await s.GetManyAsync(["urn:b", "urn:c"], ct);
            return (first, inserted, second);
        }, None);

        Assert.Equal(2, SpeedOf(seen.first["urn:a"]));
        Assert.False(seen.first.ContainsKey("urn:b"));
        Assert.Equal(3, SpeedOf(seen.first["urn:c"]));
        Assert.True(seen.inserted);
        Assert.Equal(5, SpeedOf(seen.second["urn:b"]));
        Assert.Equal(4, SpeedOf(seen.second["urn:c"]));
        Assert.Equal(4, SpeedOf(await Store.GetEntityAsync("", "urn:c", None)));
        Assert.Equal(["urn:a", "urn:c", "urn:b"], await QueryIdsAsync(new EntityQuery()));
    }

    [Fact]
    public async Task Batch_upsert_of_new_existing_and_repeated_ids_applies_every_item_in_order()
    {
        await InsertAsync(Entity("urn:old", Vehicle, (Speed, 1)));
        JsonObject[] items =
        [
            Entity("urn:n1", Vehicle, (Speed, 10)),
            Entity("urn:old", Vehicle, (Speed, 2)),
            Entity("urn:n2", Building, (Owner, "first")),
            Entity("urn:n1", Vehicle, (Owner, "second write of n1")),
            Entity("urn:old", Vehicle, (Owner, "second write of old")),
            Entity("urn:n3", Vehicle, (Speed, 30)),
        ];

        var result = await Service().BatchUpsertAsync("", [.. items.Select(Item)], updateMode: true, None);

        Assert.Empty(result.Errors);
        Assert.Equal(["urn:n1", "urn:old", "urn:n2", "urn:n1", "urn:old", "urn:n3"], result.Success);
        Assert.Equal(["urn:n1", "urn:n2", "urn:n3"], result.Created);
        // The second item of an id saw the first one's write: update mode kept its attributes.
        var n1 = await Store.GetEntityAsync("", "urn:n1", None);
        Assert.Equal(10, SpeedOf(n1));
        Assert.Equal("second write of n1", (string)n1![Owner]![0]!["value"]!);
        var old = await Store.GetEntityAsync("", "urn:old", None);
        Assert.Equal(2, SpeedOf(old));
        Assert.Equal("second write of old", (string)old![Owner]![0]!["value"]!);
        Assert.Equal(["urn:old", "urn:n1", "urn:n2", "urn:n3"], await QueryIdsAsync(new EntityQuery()));
        Assert.Equal(["urn:n2"], await QueryIdsAsync(new EntityQuery { Type = new AnyTypeOf(Building) }));
        Assert.Equal(["urn:old", "urn:n1"], await QueryIdsAsync(new EntityQuery { Attrs = [Owner], Type = new AnyTypeOf(Vehicle) }));
    }

    [Fact]
    public async Task Batch_upsert_in_replace_mode_lets_a_repeated_id_replace_the_first_write()
    {
        await InsertAsync(Entity("urn:old", Vehicle, (Speed, 1)));
        JsonObject[] items =
        [
            Entity("urn:old", Vehicle, (Speed, 2)),
            Entity("urn:new", Vehicle, (Speed, 3)),
            Entity("urn:old", Building, (Owner, "replaced")),
            Entity("urn:new", Building, (Owner, "replaced")),
        ];

        var result = await Service().BatchUpsertAsync("", [.. items.Select(Item)], updateMode: false, None);

        Assert.Empty(result.Errors);
        Assert.Equal(["urn:new"], result.Created);
        foreach (var id in new[] { "urn:old", "urn:new" })
        {
            var entity = await Store.GetEntityAsync("", id, None);
            Assert.Null(entity![Speed]);
            Assert.Equal("replaced", (string)entity[Owner]![0]!["value"]!);
        }

        Assert.Equal(["urn:old", "urn:new"], await QueryIdsAsync(new EntityQuery { Type = new AnyTypeOf(Building) }));
        Assert.Empty(await QueryIdsAsync(new EntityQuery { Type = new AnyTypeOf(Vehicle) }));
    }

    [Fact]
    public async Task Batch_create_refuses_existing_and_repeated_ids_item_by_item()
    {
        await InsertAsync(Entity("urn:old", Vehicle, (Speed, 1)));
        JsonObject[] items =
        [
            Entity("urn:old", Vehicle, (Speed, 2)),
            Entity("urn:n1", Vehicle, (Speed, 10)),
            Entity("urn:n1", Vehicle, (Speed, 11)),
            Entity("urn:n2", Vehicle, (Speed, 20)),
        ];

        var result = await Service().BatchCreateAsync("", [.. items.Select(Item)], None);

        Assert.Equal(["urn:n1", "urn:n2"], result.Success);
        Assert.Equal(["urn:old", "urn:n1"], result.Errors.Select(e => e.EntityId));
        Assert.All(result.Errors, e => Assert.Equal(ErrorType.AlreadyExists, e.Error.Type));
        Assert.Equal(1, SpeedOf(await Store.GetEntityAsync("", "urn:old", None)));
        Assert.Equal(10, SpeedOf(await Store.GetEntityAsync("", "urn:n1", None)));
        Assert.Equal(["urn:old", "urn:n1", "urn:n2"], await QueryIdsAsync(new EntityQuery()));
    }

    [Fact]
    public async Task Batch_update_and_merge_fail_missing_ids_and_apply_repeated_ids_cumulatively()
    {
        await InsertAllAsync(Entity("urn:a", Vehicle, (Speed, 1)), Entity("urn:b", Vehicle, (Speed, 1)));

        var update = await Service().BatchUpdateAsync(
            "",
            [Item(Entity("urn:a", Vehicle, (Owner, "o1"))), Item(Entity("urn:missing", Vehicle, (Speed, 9))), Item(Entity("urn:a", Vehicle, (Speed, 5)))],
            noOverwrite: false,
            None);
        var merge = await Service().BatchMergeAsync(
            "",
            [Item(Entity("urn:b", Vehicle, (Owner, "o2"))), Item(Entity("urn:b", Vehicle, (Speed, 7))), Item(Entity("urn:gone", Vehicle))],
            None);

        Assert.Equal(["urn:a", "urn:a"], update.Success);
        Assert.Equal(["urn:missing"], update.Errors.Select(e => e.EntityId));
        Assert.Equal(["urn:b", "urn:b"], merge.Success);
        Assert.Equal(["urn:gone"], merge.Errors.Select(e => e.EntityId));
        Assert.All(update.Errors.Concat(merge.Errors), e => Assert.Equal(ErrorType.ResourceNotFound, e.Error.Type));
        var a = await Store.GetEntityAsync("", "urn:a", None);
        Assert.Equal(5, SpeedOf(a));
        Assert.Equal("o1", (string)a![Owner]![0]!["value"]!);
        var b = await Store.GetEntityAsync("", "urn:b", None);
        Assert.Equal(7, SpeedOf(b));
        Assert.Equal("o2", (string)b![Owner]![0]!["value"]!);
        Assert.Null(await Store.GetEntityAsync("", "urn:missing", None));
    }

    [Fact]
    public async Task Observers_of_a_batch_upsert_see_each_write_with_the_entity_as_it_stood_before()
    {
        await InsertAsync(Entity("urn:old", Vehicle, (Speed, 1)));
        var observer = new RecordingObserver();

        await ServiceOver(Store, observer).BatchUpsertAsync(
            "",
            [Item(Entity("urn:old", Vehicle, (Speed, 2))), Item(Entity("urn:new", Vehicle, (Speed, 3))), Item(Entity("urn:old", Vehicle, (Speed, 4)))],
            updateMode: true,
            None);

        Assert.Equal([Changes.EntityChangeKind.Updated, Changes.EntityChangeKind.Created, Changes.EntityChangeKind.Updated], observer.Committed.Select(c => c.Kind));
        Assert.Equal(1, SpeedOf(observer.Committed[0].Before));
        Assert.Equal(2, SpeedOf(observer.Committed[0].After));
        Assert.Null(observer.Committed[1].Before);
        Assert.Equal(2, SpeedOf(observer.Committed[2].Before));
        Assert.Equal(4, SpeedOf(observer.Committed[2].After));
    }

    [Fact]
    public async Task A_large_batch_upsert_over_existing_entities_updates_every_one_and_its_indexes()
    {
        // More items than one deferred flush holds, half of them existing: set-based writes of both kinds.
        const int Count = 2500;
        await Service().BatchUpsertAsync("", [.. Enumerable.Range(0, Count).Where(i => i % 2 == 0).Select(i => Item(Entity($"urn:{i:D5}", Vehicle, (Speed, i))))], updateMode: false, None);

        var result = await Service().BatchUpsertAsync(
            "",
            [.. Enumerable.Range(0, Count).Select(i => Item(WithLocation(Entity($"urn:{i:D5}", Building, (Speed, i + 1)), i % 90, 0)))],
            updateMode: false,
            None);

        Assert.Empty(result.Errors);
        Assert.Equal(Count / 2, result.Created.Count);
        Assert.Equal(Count, (await QueryAsync(new EntityQuery { Type = new AnyTypeOf(Building), Count = true, Limit = 0 })).TotalCount);
        Assert.Equal(0, (await QueryAsync(new EntityQuery { Type = new AnyTypeOf(Vehicle), Count = true, Limit = 0 })).TotalCount);
        Assert.Equal(1235, SpeedOf(await Store.GetEntityAsync("", "urn:01234", None)));
        Assert.Equal(1236, SpeedOf(await Store.GetEntityAsync("", "urn:01235", None)));
        var ids = await QueryIdsAsync(new EntityQuery { Limit = Count });
        // Existing entities keep their place; the new ones follow in batch order.
        Assert.Equal(
            Enumerable.Range(0, Count).Where(i => i % 2 == 0).Concat(Enumerable.Range(0, Count).Where(i => i % 2 == 1)).Select(i => $"urn:{i:D5}"),
            ids);
    }
}
