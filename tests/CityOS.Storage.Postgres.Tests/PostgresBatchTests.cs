using System.Text.Json.Nodes;
using CityOS.Broker;
using CityOS.Broker.Storage;
using CityOS.Storage.Postgres.Internal;
using Npgsql;

namespace CityOS.Storage.Postgres.Tests;

/// <summary>
/// Batches on PostgreSQL: GetManyAsync locks what it reads, set-based deferred writes keep every index row,
/// and overlapping batches through two nodes neither deadlock for good nor lose a write.
/// </summary>
public sealed class PostgresBatchTests : PostgresStoreTest
{
    private const string Ns = "https://example.org/ns/";
    private const string Vehicle = Ns + "Vehicle";
    private const string Counter = Ns + "counter";

    [Fact]
    public async Task GetMany_locks_the_found_rows_until_the_commit_so_another_node_waits_and_loses_no_update()
    {
        await Insert(Entity("urn:a", Vehicle, (Counter, 0)), Entity("urn:b", Vehicle, (Counter, 0)));
        await using var other = new PostgresEntityStore(Database.ConnectionString);
        await other.InitializeAsync(None);
        var locked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var first = Store.WriteAsync("", false, async (s, ct) =>
        {
            var found = await s.GetManyAsync(["urn:b", "urn:a", "urn:missing"], ct);
            locked.TrySetResult();
            await release.Task.WaitAsync(ct);
            foreach (var entity in found.Values)
            {
                entity[Counter]![0]!["value"] = (int)entity[Counter]![0]!["value"]! + 1;
                await s.UpdateAsync(entity, ct);
            }

            return found.Count;
        }, None);
        await locked.Task;
        var second = other.WriteAsync("", false, async (s, ct) =>
        {
            var b = (await s.GetAsync("urn:b", ct))!;
            b[Counter]![0]!["value"] = (int)b[Counter]![0]!["value"]! + 10;
            await s.UpdateAsync(b, ct);
            return true;
        }, None);

        // The second node's read of urn:b must wait for the first transaction's lock.
        await Task.Delay(300);
        Assert.False(second.IsCompleted);
        release.SetResult();

        Assert.Equal(2, await first);
        Assert.True(await second);
        Assert.Equal(11, CounterOf(await Store.GetEntityAsync("", "urn:b", None)));
        Assert.Equal(1, CounterOf(await Store.GetEntityAsync("", "urn:a", None)));
    }

    [Fact]
    public async Task Overlapping_batch_upserts_through_two_nodes_all_commit_and_keep_every_write()
    {
        await using var otherStore = new PostgresEntityStore(Database.ConnectionString);
        await otherStore.InitializeAsync(None);
        var services = new[] { new EntityService(Store, TimeProvider.System), new EntityService(otherStore, TimeProvider.System) };
        // Half of the ids exist, half are new to both nodes: they race on inserts (a deferred insert meeting the
        // other's row runs again undeferred) and on row locks (taken in id order by GetManyAsync).
        const int Ids = 60;
        await services[0].BatchUpsertAsync("", [.. Enumerable.Range(0, Ids).Where(i => i % 2 == 0).Select(i => Item(Entity($"urn:{i:D3}", Vehicle)))], updateMode: true, None);
        const int Batches = 8;

        var results = await Task.WhenAll(Enumerable.Range(0, Batches).Select(k => Task.Run(async () =>
        {
            // Every batch writes its own attribute on every id, half of them in reverse order, once twice over.
            var order = Enumerable.Range(0, Ids).Select(i => $"urn:{i:D3}");
            order = k % 2 == 0 ? order : order.Reverse();
            var items = order.Select(id => Item(Entity(id, Vehicle, ($"{Ns}batch{k}", k)))).ToList();
            items.Add(Item(Entity($"urn:{k:D3}", Vehicle, ($"{Ns}batch{k}", k), ($"{Ns}again{k}", k))));
            return await services[k % 2].BatchUpsertAsync("", items, updateMode: true, None);
        })));

        Assert.All(results, r => Assert.Empty(r.Errors));
        Assert.Equal(Ids / 2, results.Sum(r => r.Created.Count));
        for (var i = 0; i < Ids; i++)
        {
            var entity = (await Store.GetEntityAsync("", $"urn:{i:D3}", None))!;
            for (var k = 0; k < Batches; k++)
            {
                Assert.True(entity.ContainsKey($"{Ns}batch{k}"), $"urn:{i:D3} lost the write of batch {k}");
            }
        }

        Assert.True((await Store.GetEntityAsync("", "urn:003", None))!.ContainsKey($"{Ns}again3"));
        Assert.Equal(Ids, await ScalarAsync("SELECT count(*) FROM entity_types"));
    }

    [Fact]
    public async Task Set_based_writes_keep_names_with_quotes_backslashes_commas_and_braces()
    {
        string[] types = [Ns + "a\"b", Ns + "c\\d", Ns + "e,f {g}", Ns + "NULL", Ns + "h i"];
        var odd = Ns + "attr \"x\\y\",{z}";
        var service = new EntityService(Store, TimeProvider.System);
        var entities = Enumerable.Range(0, 3).Select(i => Entity($"urn:odd:{i}", types, (odd, i))).ToArray();

        await service.BatchUpsertAsync("", [.. entities.Select(Item)], updateMode: false, None);
        await service.BatchUpsertAsync("", [.. entities.Select(Item)], updateMode: false, None);

        foreach (var type in types)
        {
            Assert.Equal(3, (await Store.QueryEntitiesAsync("", new EntityQuery { Type = new CityOS.Broker.ComplianceTests.AnyTypeOf(type), Count = true, Limit = 0 }, None)).TotalCount);
        }

        Assert.Equal(3, (await Store.QueryEntitiesAsync("", new EntityQuery { Attrs = [odd], Count = true, Limit = 0 }, None)).TotalCount);
        Assert.Equal(15L, await ScalarAsync("SELECT count(*) FROM entity_types"));
        Assert.Equal("{\"a\\\"b\",\"c\\\\d\",\"\"}", PostgresWriteSession.ArrayLiteral(["a\"b", "c\\d", ""]));
    }

    [Fact]
    public async Task Set_based_inserts_and_updates_write_the_q_prefilter_values_of_every_row()
    {
        var service = new EntityService(Store, TimeProvider.System);
        await service.BatchUpsertAsync("", [.. Enumerable.Range(0, 4).Select(i => Item(Entity($"urn:{i}", Vehicle, (Counter, i))))], updateMode: false, None);
        Assert.Equal(1L, await ScalarAsync($$"""SELECT count(*) FROM entities WHERE vals @> '{"{{Counter}}": [2]}'"""));

        await service.BatchUpsertAsync("", [.. Enumerable.Range(0, 4).Select(i => Item(Entity($"urn:{i}", Vehicle, (Counter, 7))))], updateMode: false, None);

        Assert.Equal(0L, await ScalarAsync($$"""SELECT count(*) FROM entities WHERE vals @> '{"{{Counter}}": [2]}'"""));
        Assert.Equal(4L, await ScalarAsync($$"""SELECT count(*) FROM entities WHERE vals @> '{"{{Counter}}": [7]}'"""));
    }

    [Fact]
    public async Task Deleting_entities_removes_their_type_rows_and_geo_boxes()
    {
        var service = new EntityService(Store, TimeProvider.System);
        await service.BatchUpsertAsync("", [.. Enumerable.Range(0, 4).Select(i => Item(WithLocation(Entity($"urn:{i}", [Vehicle, Ns + "Other"]), i, i)))], updateMode: false, None);
        Assert.Equal(8L, await ScalarAsync("SELECT count(*) FROM entity_types"));
        Assert.Equal(4L, await ScalarAsync("SELECT count(*) FROM entity_geo"));

        var result = await service.BatchDeleteAsync("", [.. Enumerable.Range(0, 3).Select(i => new BatchItem($"urn:{i}", null, null))], None);

        Assert.Equal(3, result.Success.Count);
        Assert.Equal(2L, await ScalarAsync("SELECT count(*) FROM entity_types"));
        Assert.Equal(1L, await ScalarAsync("SELECT count(*) FROM entity_geo"));
        Assert.Equal(0L, await ScalarAsync("SELECT count(*) FROM entity_types t WHERE NOT EXISTS (SELECT 1 FROM entities e WHERE e.seq = t.entity)"));
    }

    private static int CounterOf(JsonObject? entity) => (int)entity![Counter]![0]!["value"]!;

    private static BatchItem Item(JsonObject entity) => new((string)entity["id"]!, entity, null);

    private async Task Insert(params JsonObject[] entities)
    {
        foreach (var entity in entities)
        {
            Assert.True(await Store.WriteAsync("", true, (s, ct) => s.InsertAsync(entity, ct), None));
        }
    }

    private async Task<long> ScalarAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(Database.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static JsonObject WithLocation(JsonObject entity, double lon, double lat)
    {
        entity[Location] = new JsonArray(new JsonObject
        {
            ["type"] = "GeoProperty",
            ["value"] = new JsonObject { ["type"] = "Point", ["coordinates"] = new JsonArray(lon, lat) },
        });
        return entity;
    }
}
