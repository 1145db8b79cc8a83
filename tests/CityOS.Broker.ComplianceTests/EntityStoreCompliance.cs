using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using CityOS.Broker.Storage;
using CityOS.NgsiLd.Errors;
using CityOS.NgsiLd.JsonLd;

namespace CityOS.Broker.ComplianceTests;

/// <summary>
/// The storage contract as tests. Every backend subclasses this once, so SQLite and PostgreSQL cannot
/// drift. Each test gets a fresh, empty, initialized store in <see cref="Store"/>.
/// </summary>
public abstract partial class EntityStoreCompliance : IAsyncLifetime
{
    protected const string Ns = "https://example.org/ns/";
    protected const string Speed = Ns + "speed";
    protected const string Location = "https://uri.etsi.org/ngsi-ld/location";
    protected const string Owner = Ns + "owner";
    protected const string Mixed = Ns + "mixed";
    protected const string Vehicle = Ns + "Vehicle";
    protected const string Building = Ns + "Building";
    protected const string Sensor = Ns + "Sensor";

    protected static readonly CancellationToken None = CancellationToken.None;

    protected IEntityStore Store { get; private set; } = null!;

    /// <summary>A new, uninitialized store over new, empty storage.</summary>
    protected abstract Task<IEntityStore> CreateStoreAsync();

    /// <summary>A new, uninitialized store over the storage of the last one made (which the suite has disposed).</summary>
    protected abstract Task<IEntityStore> ReopenStoreAsync();

    /// <summary>The hosted @context store kept in <paramref name="store"/>'s storage.</summary>
    protected abstract IHostedContextStore HostedContextsOf(IEntityStore store);

    /// <summary>Removes the storage after the test (temp directories, databases).</summary>
    protected virtual Task DeleteStorageAsync() => Task.CompletedTask;

    public virtual async Task InitializeAsync()
    {
        Store = await CreateStoreAsync();
        await Store.InitializeAsync(None);
    }

    public virtual async Task DisposeAsync()
    {
        await DisposeStoreAsync(Store);
        await DeleteStorageAsync();
    }

    /// <summary>Disposes <see cref="Store"/> and opens a new one on the same storage.</summary>
    protected async Task ReopenAsync()
    {
        await DisposeStoreAsync(Store);
        Store = await ReopenStoreAsync();
        await Store.InitializeAsync(None);
    }

    // ---- helpers -------------------------------------------------------------------------------------

    protected static JsonObject Entity(string id, string type, params (string Attribute, JsonNode? Value)[] properties) =>
        Entity(id, [type], properties);

    protected static JsonObject Entity(string id, string[] types, params (string Attribute, JsonNode? Value)[] properties)
    {
        var entity = new JsonObject
        {
            ["id"] = id,
            ["type"] = new JsonArray(types.Select(t => (JsonNode?)JsonValue.Create(t)).ToArray()),
            ["createdAt"] = "2026-11-23T10:00:00.000000Z",
            ["modifiedAt"] = "2026-11-23T10:00:00.000000Z",
        };
        foreach (var (attribute, value) in properties)
        {
            entity[attribute] = new JsonArray(new JsonObject { ["type"] = "Property", ["value"] = value });
        }

        return entity;
    }

    protected static JsonObject WithLocation(JsonObject entity, double lon, double lat)
    {
        entity[Location] = new JsonArray(new JsonObject
        {
            ["type"] = "GeoProperty",
            ["value"] = new JsonObject { ["type"] = "Point", ["coordinates"] = new JsonArray(lon, lat) },
        });
        return entity;
    }

    protected Task<bool> InsertAsync(JsonObject entity, string tenant = "") =>
        Store.WriteAsync(tenant, true, (s, ct) => s.InsertAsync(entity.DeepClone().AsObject(), ct), None);

    protected async Task InsertAllAsync(params JsonObject[] entities)
    {
        foreach (var entity in entities)
        {
            Assert.True(await InsertAsync(entity));
        }
    }

    protected Task UpdateAsync(JsonObject entity, string tenant = "") =>
        Store.WriteAsync(tenant, false, async (s, ct) => { await s.UpdateAsync(entity.DeepClone().AsObject(), ct); return true; }, None);

    protected Task<bool> DeleteAsync(string id, string tenant = "") =>
        Store.WriteAsync(tenant, false, (s, ct) => s.DeleteAsync(id, ct), None);

    protected Task<EntityPage> QueryAsync(EntityQuery query, string tenant = "") => Store.QueryEntitiesAsync(tenant, query, None);

    protected async Task<string[]> QueryIdsAsync(EntityQuery query, string tenant = "") =>
        (await QueryAsync(query, tenant)).Entities.Select(e => (string)e["id"]!).ToArray();

    protected static void AssertSameJson(JsonNode? expected, JsonNode? actual) =>
        Assert.True(JsonNode.DeepEquals(expected, actual), $"expected {expected?.ToJsonString()} but got {actual?.ToJsonString()}");

    private static async Task DisposeStoreAsync(IEntityStore? store)
    {
        switch (store)
        {
            case IAsyncDisposable asyncDisposable:
                await asyncDisposable.DisposeAsync();
                break;
            case IDisposable disposable:
                disposable.Dispose();
                break;
            default:
                break;
        }
    }

    // ---- single-entity operations ------------------------------------------------------------------------

    [Fact]
    public async Task Inserted_entity_is_returned_by_get_unchanged()
    {
        var entity = Entity("urn:ngsi-ld:Vehicle:1", Vehicle, (Speed, 55.5), (Owner, "Zoë, ☃ and \"quotes\""));
        entity["scope"] = new JsonArray("/a/b");
        Assert.True(await InsertAsync(entity));

        AssertSameJson(entity, await Store.GetEntityAsync("", "urn:ngsi-ld:Vehicle:1", None));
    }

    [Fact]
    public async Task Get_of_unknown_id_returns_null()
    {
        await InsertAsync(Entity("urn:a", Vehicle));

        Assert.Null(await Store.GetEntityAsync("", "urn:b", None));
    }

    [Fact]
    public async Task Insert_of_existing_id_returns_false_and_keeps_the_first()
    {
        var first = Entity("urn:a", Vehicle, (Speed, 1));
        Assert.True(await InsertAsync(first));

        Assert.False(await InsertAsync(Entity("urn:a", Building, (Speed, 2))));

        AssertSameJson(first, await Store.GetEntityAsync("", "urn:a", None));
        var page = await QueryAsync(new EntityQuery { Type = new AnyTypeOf(Building), Count = true });
        Assert.Equal(0, page.TotalCount);
    }

    [Fact]
    public async Task Update_replaces_the_stored_entity()
    {
        await InsertAsync(Entity("urn:a", Vehicle, (Speed, 1), (Owner, "x")));
        var updated = Entity("urn:a", Vehicle, (Speed, 2));

        await UpdateAsync(updated);

        AssertSameJson(updated, await Store.GetEntityAsync("", "urn:a", None));
    }

    [Fact]
    public async Task Delete_removes_the_entity_and_reports_whether_it_existed()
    {
        await InsertAsync(Entity("urn:a", Vehicle));

        Assert.True(await DeleteAsync("urn:a"));
        Assert.False(await DeleteAsync("urn:a"));

        Assert.Null(await Store.GetEntityAsync("", "urn:a", None));
        Assert.Equal(0, (await QueryAsync(new EntityQuery { Count = true })).TotalCount);
    }

    [Fact]
    public async Task Session_get_sees_earlier_writes_of_the_same_work()
    {
        var seen = await Store.WriteAsync("", false, async (s, ct) =>
        {
            Assert.Null(await s.GetAsync("urn:a", ct));
            await s.InsertAsync(Entity("urn:a", Vehicle, (Speed, 1)), ct);
            var afterInsert = await s.GetAsync("urn:a", ct);
            await s.UpdateAsync(Entity("urn:a", Vehicle, (Speed, 2)), ct);
            var afterUpdate = await s.GetAsync("urn:a", ct);
            await s.DeleteAsync("urn:a", ct);
            var afterDelete = await s.GetAsync("urn:a", ct);
            return (afterInsert, afterUpdate, afterDelete);
        }, None);

        Assert.Equal(1, (int)seen.afterInsert![Speed]![0]!["value"]!);
        Assert.Equal(2, (int)seen.afterUpdate![Speed]![0]!["value"]!);
        Assert.Null(seen.afterDelete);
    }

    [Fact]
    public async Task Write_returns_the_value_of_the_work()
    {
        var result = await Store.WriteAsync("", false, (_, _) => ValueTask.FromResult(42), None);

        Assert.Equal(42, result);
    }

    // ---- tenants -----------------------------------------------------------------------------------------

    [Fact]
    public async Task Default_tenant_always_exists_and_is_listed()
    {
        Assert.True(await Store.TenantExistsAsync("", None));
        Assert.Contains("", await Store.ListTenantsAsync(None));
    }

    [Fact]
    public async Task Write_to_a_missing_tenant_without_create_fails_NonexistentTenant_before_the_work_runs()
    {
        var ran = false;

        var error = await Assert.ThrowsAsync<NgsiLdException>(() => Store.WriteAsync("city1", false, (_, _) =>
        {
            ran = true;
            return ValueTask.FromResult(true);
        }, None));

        Assert.Equal(ErrorType.NonexistentTenant, error.Type);
        Assert.False(ran);
        Assert.False(await Store.TenantExistsAsync("city1", None));
    }

    [Fact]
    public async Task Write_with_createTenant_creates_the_tenant()
    {
        Assert.True(await InsertAsync(Entity("urn:a", Vehicle), "city1"));

        Assert.True(await Store.TenantExistsAsync("city1", None));
        Assert.Equal(["", "city1"], (await Store.ListTenantsAsync(None)).Order(StringComparer.Ordinal));

        // Now that it exists, writes without createTenant succeed.
        Assert.True(await Store.WriteAsync("city1", false, (s, ct) => s.DeleteAsync("urn:a", ct), None));
    }

    [Theory]
    [InlineData("urn:ngsi-ld:tenant:binh-duong")]
    [InlineData("city.da_nang")]
    public async Task Store_accepts_every_tenant_name_the_shared_rule_accepts(string tenant)
    {
        Assert.True(TenantName.IsValid(tenant));
        Assert.True(await InsertAsync(Entity("urn:a", Vehicle), tenant));
        Assert.True(await Store.TenantExistsAsync(tenant, None));
    }

    [Theory]
    [InlineData("a/b")]
    [InlineData("white space")]
    [InlineData("tên")]
    public async Task Store_refuses_tenant_names_the_shared_rule_refuses_before_the_work_runs(string tenant)
    {
        Assert.False(TenantName.IsValid(tenant));
        var ran = false;
        var error = await Assert.ThrowsAsync<NgsiLdException>(() => Store.WriteAsync(tenant, true, (_, _) =>
        {
            ran = true;
            return ValueTask.FromResult(true);
        }, None));

        Assert.Equal(ErrorType.BadRequestData, error.Type);
        Assert.False(ran);
    }

    [Fact]
    public async Task Tenants_are_isolated()
    {
        await InsertAsync(Entity("urn:a", Vehicle, (Speed, 1)), "");
        await InsertAsync(Entity("urn:a", Vehicle, (Speed, 2)), "city1");
        await InsertAsync(Entity("urn:b", Building), "city1");

        Assert.Equal(1, (int)(await Store.GetEntityAsync("", "urn:a", None))![Speed]![0]!["value"]!);
        Assert.Equal(2, (int)(await Store.GetEntityAsync("city1", "urn:a", None))![Speed]![0]!["value"]!);
        Assert.Null(await Store.GetEntityAsync("", "urn:b", None));
        Assert.Equal(["urn:a"], await QueryIdsAsync(new EntityQuery(), ""));
        Assert.Equal(["urn:a", "urn:b"], await QueryIdsAsync(new EntityQuery(), "city1"));
        Assert.Empty(await QueryIdsAsync(new EntityQuery { Type = new AnyTypeOf(Building) }, ""));
        Assert.DoesNotContain(await Store.GetAttributeUsageAsync("", None), u => u.EntityType == Building);

        Assert.True(await DeleteAsync("urn:a", "city1"));
        Assert.NotNull(await Store.GetEntityAsync("", "urn:a", None));
    }

    [Theory]
    [InlineData("has space")]
    [InlineData("a/b")]
    [InlineData("semi;colon")]
    [InlineData("x01234567890123456789012345678901234567890123456789012345678901234")]
    public async Task Invalid_tenant_name_is_rejected_as_BadRequestData(string tenant)
    {
        var error = await Assert.ThrowsAsync<NgsiLdException>(() => InsertAsync(Entity("urn:a", Vehicle), tenant));

        Assert.Equal(ErrorType.BadRequestData, error.Type);
        Assert.False(await Store.TenantExistsAsync(tenant, None));
    }

    [Theory]
    [InlineData("city1")]
    [InlineData("City_North-2")]
    public async Task Valid_tenant_names_are_accepted(string tenant)
    {
        Assert.True(await InsertAsync(Entity("urn:a", Vehicle), tenant));

        Assert.True(await Store.TenantExistsAsync(tenant, None));
    }

    [Fact]
    public async Task Reads_on_an_unknown_tenant_find_nothing()
    {
        await InsertAsync(Entity("urn:a", Vehicle));

        Assert.False(await Store.TenantExistsAsync("nowhere", None));
        Assert.Null(await Store.GetEntityAsync("nowhere", "urn:a", None));
        var page = await QueryAsync(new EntityQuery { Count = true }, "nowhere");
        Assert.Empty(page.Entities);
        Assert.Equal(0, page.TotalCount);
        Assert.Empty(await Store.GetAttributeUsageAsync("nowhere", None));
    }

    // ---- atomicity and durability -----------------------------------------------------------------------

    [Fact]
    public async Task Work_that_throws_after_writing_leaves_nothing_and_its_exception_propagates()
    {
        await InsertAsync(Entity("urn:keep", Vehicle, (Speed, 1)));
        var boom = new InvalidOperationException("boom");

        var thrown = await Assert.ThrowsAsync<InvalidOperationException>(() => Store.WriteAsync<bool>("", false, async (s, ct) =>
        {
            await s.InsertAsync(Entity("urn:new", Vehicle, (Speed, 9)), ct);
            await s.UpdateAsync(Entity("urn:keep", Building, (Owner, "x")), ct);
            throw boom;
        }, None));

        Assert.Same(boom, thrown);
        Assert.Null(await Store.GetEntityAsync("", "urn:new", None));
        AssertSameJson(Entity("urn:keep", Vehicle, (Speed, 1)), await Store.GetEntityAsync("", "urn:keep", None));
        Assert.Equal(["urn:keep"], await QueryIdsAsync(new EntityQuery { Type = new AnyTypeOf(Vehicle) }));
        Assert.Empty(await QueryIdsAsync(new EntityQuery { Type = new AnyTypeOf(Building) }));
        Assert.Empty(await QueryIdsAsync(new EntityQuery { Attrs = [Owner] }));
    }

    [Fact]
    public async Task A_failing_work_item_does_not_undo_concurrent_writes_of_other_callers()
    {
        // The first write holds its transaction open until the others are queued, so a group-committing
        // store runs them together; the failing ones must still lose only their own writes.
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var first = Store.WriteAsync("", false, async (s, ct) =>
        {
            started.TrySetResult();
            await gate.Task;
            return await s.InsertAsync(Entity("urn:first", Vehicle), ct);
        }, None);
        await started.Task;

        var writes = Enumerable.Range(0, 30).Select(i => Store.WriteAsync<bool>("", false, async (s, ct) =>
        {
            await s.InsertAsync(Entity($"urn:e{i}", Vehicle), ct);
            if (i % 3 == 1)
            {
                throw new InvalidOperationException($"fail {i}");
            }

            return true;
        }, None)).ToList();
        gate.SetResult();

        Assert.True(await first);
        for (var i = 0; i < writes.Count; i++)
        {
            if (i % 3 == 1)
            {
                var error = await Assert.ThrowsAsync<InvalidOperationException>(() => writes[i]);
                Assert.Equal($"fail {i}", error.Message);
                Assert.Null(await Store.GetEntityAsync("", $"urn:e{i}", None));
            }
            else
            {
                Assert.True(await writes[i]);
                Assert.NotNull(await Store.GetEntityAsync("", $"urn:e{i}", None));
            }
        }

        Assert.Equal(21, (await QueryAsync(new EntityQuery { Count = true, Limit = 0 })).TotalCount);
    }

    [Fact]
    public async Task A_large_batch_is_all_or_nothing()
    {
        var batch = Enumerable.Range(0, 1500).Select(i => Entity($"urn:b{i}", Vehicle, (Speed, i))).ToList();

        await Assert.ThrowsAsync<InvalidOperationException>(() => Store.WriteAsync<bool>("", false, async (s, ct) =>
        {
            foreach (var entity in batch)
            {
                await s.InsertAsync(entity, ct);
            }

            throw new InvalidOperationException("last entity invalid");
        }, None));
        Assert.Equal(0, (await QueryAsync(new EntityQuery { Count = true, Limit = 0 })).TotalCount);

        var created = await Store.WriteAsync("", false, async (s, ct) =>
        {
            var n = 0;
            foreach (var entity in batch)
            {
                n += await s.InsertAsync(entity, ct) ? 1 : 0;
            }

            return n;
        }, None);
        Assert.Equal(1500, created);
        Assert.Equal(1500, (await QueryAsync(new EntityQuery { Attrs = [Speed], Count = true, Limit = 0 })).TotalCount);
    }

    // ---- one transaction across tenants (bulk import) -----------------------------------------------------

    [Fact]
    public async Task Write_across_tenants_commits_every_tenant_and_creates_missing_ones()
    {
        await InsertAsync(Entity("urn:old", Vehicle), "t-existing");

        var (a, b, again) = await Store.WriteTenantsAsync(async (sessions, ct) =>
        {
            var first = await sessions.ForTenantAsync("t-new", createTenant: true, ct);
            var second = await sessions.ForTenantAsync("t-existing", createTenant: false, ct);
            var a = await first.InsertAsync(Entity("urn:a", Vehicle), ct);
            var b = await second.InsertAsync(Entity("urn:b", Building), ct);
            await second.UpdateAsync(Entity("urn:old", Sensor), ct);

            // Back to the first tenant after writing the second: the same session, which sees its own writes.
            var again = await sessions.ForTenantAsync("t-new", createTenant: true, ct);
            Assert.Same(first, again);
            return (a, b, await again.GetAsync("urn:a", ct) is not null);
        }, None);

        Assert.True(a && b && again);
        Assert.True(await Store.TenantExistsAsync("t-new", None));
        Assert.Equal(["urn:a"], await QueryIdsAsync(new EntityQuery(), "t-new"));
        Assert.Equal(["urn:old", "urn:b"], await QueryIdsAsync(new EntityQuery(), "t-existing"));
        AssertSameJson(Entity("urn:old", Sensor), await Store.GetEntityAsync("t-existing", "urn:old", None));
        Assert.Empty(await QueryIdsAsync(new EntityQuery()));
    }

    [Fact]
    public async Task Write_across_tenants_that_throws_in_a_later_tenant_leaves_every_tenant_as_it_was()
    {
        await InsertAsync(Entity("urn:keep", Vehicle, (Speed, 1)), "t-existing");
        var boom = new InvalidOperationException("second tenant failed");

        var thrown = await Assert.ThrowsAsync<InvalidOperationException>(() => Store.WriteTenantsAsync<bool>(async (sessions, ct) =>
        {
            var first = await sessions.ForTenantAsync("t-created", createTenant: true, ct);
            for (var i = 0; i < 1200; i++)
            {
                Assert.True(await first.InsertAsync(Entity($"urn:x{i}", Vehicle), ct));
            }

            var second = await sessions.ForTenantAsync("t-existing", createTenant: true, ct);
            await second.UpdateAsync(Entity("urn:keep", Building), ct);
            Assert.True(await second.InsertAsync(Entity("urn:new", Vehicle), ct));
            throw boom;
        }, None));

        Assert.Same(boom, thrown);
        Assert.False(await Store.TenantExistsAsync("t-created", None));
        Assert.DoesNotContain("t-created", await Store.ListTenantsAsync(None));
        Assert.Empty(await QueryIdsAsync(new EntityQuery(), "t-created"));
        Assert.Equal(["urn:keep"], await QueryIdsAsync(new EntityQuery(), "t-existing"));
        AssertSameJson(Entity("urn:keep", Vehicle, (Speed, 1)), await Store.GetEntityAsync("t-existing", "urn:keep", None));

        // The tenant that was rolled back can be created afterwards as if it never was.
        Assert.True(await InsertAsync(Entity("urn:x0", Vehicle), "t-created"));
        Assert.Equal(["urn:x0"], await QueryIdsAsync(new EntityQuery(), "t-created"));
    }

    [Fact]
    public async Task Write_across_tenants_to_a_missing_tenant_without_create_fails_NonexistentTenant_and_keeps_nothing()
    {
        var error = await Assert.ThrowsAsync<NgsiLdException>(() => Store.WriteTenantsAsync<bool>(async (sessions, ct) =>
        {
            await (await sessions.ForTenantAsync("", createTenant: false, ct)).InsertAsync(Entity("urn:d", Vehicle), ct);
            await sessions.ForTenantAsync("t-missing", createTenant: false, ct);
            return true;
        }, None));

        Assert.Equal(ErrorType.NonexistentTenant, error.Type);
        Assert.Null(await Store.GetEntityAsync("", "urn:d", None));
        Assert.False(await Store.TenantExistsAsync("t-missing", None));
    }

    [Fact]
    public async Task Reads_run_concurrently_with_writes_and_never_see_a_partial_write()
    {
        // Each write adds two entities at once; a reader must never count an odd number.
        using var done = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            for (var i = 0; i < 100; i++)
            {
                await Store.WriteAsync("", false, async (s, ct) =>
                {
                    await s.InsertAsync(Entity($"urn:x{i}", Vehicle), ct);
                    return await s.InsertAsync(Entity($"urn:y{i}", Vehicle), ct);
                }, None);
            }

            await done.CancelAsync();
        });
        var readers = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            long last = 0;
            var reads = 0;
            while (!done.IsCancellationRequested || reads == 0)
            {
                var count = (await QueryAsync(new EntityQuery { Type = new AnyTypeOf(Vehicle), Count = true, Limit = 5 })).TotalCount!.Value;
                Assert.True(count % 2 == 0, $"saw {count} entities");
                Assert.True(count >= last, "counts went backwards");
                last = count;
                reads++;
            }
        })).ToList();

        await writer;
        await Task.WhenAll(readers);
        Assert.Equal(200, (await QueryAsync(new EntityQuery { Count = true, Limit = 0 })).TotalCount);
    }

    [Fact]
    public async Task Many_concurrent_writes_all_succeed_and_are_all_visible()
    {
        var writes = Enumerable.Range(0, 300)
            .Select(i => Task.Run(() => InsertAsync(Entity($"urn:c{i}", i % 2 == 0 ? Vehicle : Building, (Speed, i)), i % 5 == 0 ? "city1" : "")))
            .ToList();

        Assert.All(await Task.WhenAll(writes), Assert.True);

        Assert.Equal(240, (await QueryAsync(new EntityQuery { Count = true, Limit = 0 }, "")).TotalCount);
        Assert.Equal(60, (await QueryAsync(new EntityQuery { Count = true, Limit = 0 }, "city1")).TotalCount);
        Assert.Equal(120, (await QueryAsync(new EntityQuery { Type = new AnyTypeOf(Vehicle), Count = true, Limit = 0 })).TotalCount);
    }

    [Fact]
    public async Task Writes_are_visible_to_reads_as_soon_as_the_write_completes()
    {
        for (var i = 0; i < 50; i++)
        {
            await InsertAsync(Entity($"urn:v{i}", Vehicle, (Speed, i)));
            Assert.NotNull(await Store.GetEntityAsync("", $"urn:v{i}", None));
            Assert.Equal(i + 1, (await QueryAsync(new EntityQuery { Count = true, Limit = 0 })).TotalCount);
        }
    }

    [Fact]
    public async Task Write_with_an_already_cancelled_token_runs_nothing()
    {
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        var ran = false;

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Store.WriteAsync("", false, (_, _) =>
        {
            ran = true;
            return ValueTask.FromResult(true);
        }, cancelled.Token));

        Assert.False(ran);
    }

    [Fact]
    public async Task Reopened_store_keeps_entities_tenants_contexts_and_creation_order()
    {
        await InsertAllAsync(Entity("urn:a", Vehicle, (Speed, 1)), Entity("urn:b", Building));
        await InsertAsync(Entity("urn:t", Vehicle), "city1");
        var document = new StoredContextDocument("ctx1", "Hosted", """{"@context":{"a":"https://example.org/a"}}""", new DateTimeOffset(2026, 11, 23, 10, 0, 0, TimeSpan.Zero));
        await HostedContextsOf(Store).PutAsync(document, None);

        await ReopenAsync();

        AssertSameJson(Entity("urn:a", Vehicle, (Speed, 1)), await Store.GetEntityAsync("", "urn:a", None));
        Assert.True(await Store.TenantExistsAsync("city1", None));
        Assert.NotNull(await Store.GetEntityAsync("city1", "urn:t", None));
        Assert.Equal(document, await HostedContextsOf(Store).GetAsync("ctx1", None));
        await InsertAsync(Entity("urn:0", Vehicle));
        Assert.Equal(["urn:a", "urn:b", "urn:0"], await QueryIdsAsync(new EntityQuery()));
        Assert.Equal(["urn:a", "urn:0"], await QueryIdsAsync(new EntityQuery { Type = new AnyTypeOf(Vehicle) }));
    }

    // ---- queries -----------------------------------------------------------------------------------------

    [Fact]
    public async Task Query_without_filters_returns_everything_in_creation_order()
    {
        await InsertAllAsync(Entity("urn:c", Vehicle), Entity("urn:a", Building), Entity("urn:b", Vehicle));

        Assert.Equal(["urn:c", "urn:a", "urn:b"], await QueryIdsAsync(new EntityQuery()));
    }

    [Fact]
    public async Task Query_by_ids_returns_only_those_ids_in_creation_order()
    {
        await InsertAllAsync(Entity("urn:c", Vehicle), Entity("urn:a", Building), Entity("urn:b", Vehicle));

        Assert.Equal(["urn:c", "urn:b"], await QueryIdsAsync(new EntityQuery { Ids = ["urn:b", "urn:x", "urn:c", "urn:b"] }));
        Assert.Equal(["urn:b"], await QueryIdsAsync(new EntityQuery { Ids = ["urn:a", "urn:b"], Type = new AnyTypeOf(Vehicle) }));
    }

    [Fact]
    public async Task Ids_types_and_attributes_with_non_ASCII_characters_are_found()
    {
        const string id = "urn:ngsi-ld:Straße:Zürich-☃\"q\"";
        const string type = Ns + "Gebäude";
        const string attribute = Ns + "höhe";
        await InsertAllAsync(Entity(id, type, (attribute, 1)), Entity("urn:other", Vehicle, (Speed, 1)));

        Assert.Equal([id], await QueryIdsAsync(new EntityQuery { Ids = [id, "urn:x"] }));
        Assert.Equal([id], await QueryIdsAsync(new EntityQuery { Type = new AnyTypeOf(type, Building) }));
        Assert.Equal([id], await QueryIdsAsync(new EntityQuery { Attrs = [attribute, Owner] }));
        Assert.NotNull(await Store.GetEntityAsync("", id, None));
        Assert.Contains(new AttributeUsage(type, attribute, "Property", 1), await Store.GetAttributeUsageAsync("", None));
    }

    [Fact]
    public async Task Query_by_type_returns_entities_having_that_type()
    {
        await InsertAllAsync(
            Entity("urn:1", Vehicle),
            Entity("urn:2", [Building, Vehicle]),
            Entity("urn:3", Building),
            Entity("urn:4", Sensor));

        Assert.Equal(["urn:1", "urn:2"], await QueryIdsAsync(new EntityQuery { Type = new AnyTypeOf(Vehicle) }));
        Assert.Equal(["urn:1", "urn:2", "urn:4"], await QueryIdsAsync(new EntityQuery { Type = new AnyTypeOf(Sensor, Vehicle) }));
        Assert.Equal(["urn:2"], await QueryIdsAsync(new EntityQuery { Type = new AllTypesOf(Vehicle, Building) }));
        Assert.Empty(await QueryIdsAsync(new EntityQuery { Type = new AnyTypeOf(Ns + "Nothing") }));
    }

    [Fact]
    public async Task Query_by_attrs_returns_entities_holding_any_of_them()
    {
        await InsertAllAsync(
            Entity("urn:1", Vehicle, (Speed, 1)),
            Entity("urn:2", Vehicle, (Owner, "x")),
            Entity("urn:3", Vehicle, (Speed, 1), (Owner, "y")),
            Entity("urn:4", Vehicle));

        Assert.Equal(["urn:1", "urn:3"], await QueryIdsAsync(new EntityQuery { Attrs = [Speed] }));
        Assert.Equal(["urn:1", "urn:2", "urn:3"], await QueryIdsAsync(new EntityQuery { Attrs = [Speed, Owner] }));
        Assert.Equal(["urn:2", "urn:3"], await QueryIdsAsync(new EntityQuery { Attrs = [Owner], Type = new AnyTypeOf(Vehicle) }));
        Assert.Equal(["urn:3"], await QueryIdsAsync(new EntityQuery { Attrs = [Owner], Ids = ["urn:1", "urn:3"] }));
    }

    [Fact]
    public async Task Query_pages_with_offset_and_limit_and_counts_every_match()
    {
        for (var i = 0; i < 25; i++)
        {
            await InsertAsync(Entity($"urn:{i:D2}", i % 5 == 0 ? Building : Vehicle, (Speed, i)));
        }

        var page = await QueryAsync(new EntityQuery { Type = new AnyTypeOf(Vehicle), Offset = 5, Limit = 4, Count = true });
        Assert.Equal(["urn:07", "urn:08", "urn:09", "urn:11"], page.Entities.Select(e => (string)e["id"]!));
        Assert.Equal(20, page.TotalCount);

        var last = await QueryAsync(new EntityQuery { Type = new AnyTypeOf(Vehicle), Offset = 18, Limit = 4, Count = true });
        Assert.Equal(["urn:23", "urn:24"], last.Entities.Select(e => (string)e["id"]!));
        Assert.Equal(20, last.TotalCount);

        var beyond = await QueryAsync(new EntityQuery { Offset = 100, Limit = 4, Count = true });
        Assert.Empty(beyond.Entities);
        Assert.Equal(25, beyond.TotalCount);

        var uncounted = await QueryAsync(new EntityQuery { Limit = 3 });
        Assert.Equal(3, uncounted.Entities.Count);
        Assert.Null(uncounted.TotalCount);
    }

    [Fact]
    public async Task Query_with_limit_zero_returns_only_the_count()
    {
        await InsertAllAsync(Entity("urn:1", Vehicle), Entity("urn:2", Vehicle));

        var page = await QueryAsync(new EntityQuery { Limit = 0, Count = true });

        Assert.Empty(page.Entities);
        Assert.Equal(2, page.TotalCount);
    }

    [Fact]
    public async Task Creation_order_is_kept_after_updates_and_a_recreated_entity_goes_last()
    {
        await InsertAllAsync(Entity("urn:a", Vehicle, (Speed, 1)), Entity("urn:b", Vehicle), Entity("urn:c", Vehicle));
        await UpdateAsync(Entity("urn:a", Vehicle, (Speed, 2), (Owner, "o")));

        Assert.Equal(["urn:a", "urn:b", "urn:c"], await QueryIdsAsync(new EntityQuery()));
        Assert.Equal(["urn:a", "urn:b", "urn:c"], await QueryIdsAsync(new EntityQuery { Type = new AnyTypeOf(Vehicle) }));

        await DeleteAsync("urn:b");
        await InsertAsync(Entity("urn:b", Vehicle));
        Assert.Equal(["urn:a", "urn:c", "urn:b"], await QueryIdsAsync(new EntityQuery()));
    }

    [Fact]
    public async Task Query_with_idPattern_matches_ids_by_regex()
    {
        await InsertAllAsync(Entity("urn:ngsi-ld:Vehicle:1", Vehicle), Entity("urn:ngsi-ld:Car:2", Vehicle), Entity("urn:ngsi-ld:Vehicle:3", Vehicle));

        var page = await QueryAsync(new EntityQuery { IdPattern = new Regex("^urn:ngsi-ld:Vehicle:", RegexOptions.None, TimeSpan.FromSeconds(1)), Count = true });

        Assert.Equal(["urn:ngsi-ld:Vehicle:1", "urn:ngsi-ld:Vehicle:3"], page.Entities.Select(e => (string)e["id"]!));
        Assert.Equal(2, page.TotalCount);
    }

    [Fact]
    public async Task Query_with_an_idPattern_that_backtracks_past_its_time_limit_is_BadRequestData()
    {
        await InsertAsync(Entity("urn:" + new string('a', 40) + "!", Vehicle));

        var error = await Assert.ThrowsAsync<NgsiLdException>(() =>
            QueryAsync(new EntityQuery { IdPattern = new Regex("^urn:(a|aa)+$", RegexOptions.None, TimeSpan.FromMilliseconds(50)) }));

        Assert.Equal(ErrorType.BadRequestData, error.Type);
    }

    [Fact]
    public async Task Query_with_q_is_exact_with_paging_and_count()
    {
        for (var i = 0; i < 20; i++)
        {
            await InsertAsync(Entity($"urn:{i:D2}", Vehicle, (Speed, i)));
        }

        var fast = new PredicateQ(e => e[Speed] is JsonArray a && (int)a[0]!["value"]! >= 10);
        var page = await QueryAsync(new EntityQuery { Q = fast, Type = new AnyTypeOf(Vehicle), Offset = 2, Limit = 3, Count = true });

        Assert.Equal(["urn:12", "urn:13", "urn:14"], page.Entities.Select(e => (string)e["id"]!));
        Assert.Equal(10, page.TotalCount);
    }

    [Fact]
    public async Task Query_with_scopeQ_filters_on_scopes()
    {
        var a = Entity("urn:a", Vehicle);
        a["scope"] = new JsonArray("/city/north");
        var b = Entity("urn:b", Vehicle);
        b["scope"] = new JsonArray("/city/south", "/other");
        await InsertAllAsync(a, b, Entity("urn:c", Vehicle));

        Assert.Equal(["urn:b"], await QueryIdsAsync(new EntityQuery { ScopeQ = new ScopeUnder("/city/south") }));
        Assert.Equal(["urn:a", "urn:b"], await QueryIdsAsync(new EntityQuery { ScopeQ = new ScopeUnder("/city") }));
    }

    [Fact]
    public async Task Query_by_attrs_naming_a_core_member_matches_on_the_entity()
    {
        var scoped = Entity("urn:a", Vehicle);
        scoped["scope"] = new JsonArray("/x");
        await InsertAllAsync(scoped, Entity("urn:b", Vehicle));

        Assert.Equal(["urn:a"], await QueryIdsAsync(new EntityQuery { Attrs = ["scope"] }));
    }

    [Fact]
    public async Task Indexes_follow_updates_and_deletes()
    {
        await InsertAllAsync(Entity("urn:a", Vehicle, (Speed, 1)), Entity("urn:b", Vehicle, (Speed, 2)));

        await UpdateAsync(Entity("urn:a", Building, (Owner, "x")));
        Assert.Equal(["urn:b"], await QueryIdsAsync(new EntityQuery { Type = new AnyTypeOf(Vehicle) }));
        Assert.Equal(["urn:a"], await QueryIdsAsync(new EntityQuery { Type = new AnyTypeOf(Building) }));
        Assert.Equal(["urn:b"], await QueryIdsAsync(new EntityQuery { Attrs = [Speed] }));
        Assert.Equal(["urn:a"], await QueryIdsAsync(new EntityQuery { Attrs = [Owner] }));

        await DeleteAsync("urn:a");
        Assert.Empty(await QueryIdsAsync(new EntityQuery { Type = new AnyTypeOf(Building) }));
        Assert.Empty(await QueryIdsAsync(new EntityQuery { Attrs = [Owner] }));
        Assert.DoesNotContain(await Store.GetAttributeUsageAsync("", None), u => u.EntityType == Building || u.Attribute == Owner);
    }

    [Fact]
    public async Task Entities_with_a_location_are_stored_and_updated_like_any_other()
    {
        await InsertAsync(WithLocation(Entity("urn:a", Vehicle), 10, 20));
        await UpdateAsync(WithLocation(Entity("urn:a", Vehicle, (Speed, 3)), 10, 20));
        await UpdateAsync(WithLocation(Entity("urn:a", Vehicle, (Speed, 3)), 11, 21));

        AssertSameJson(WithLocation(Entity("urn:a", Vehicle, (Speed, 3)), 11, 21), await Store.GetEntityAsync("", "urn:a", None));
        Assert.Equal(["urn:a"], await QueryIdsAsync(new EntityQuery { Attrs = [Location] }));
        Assert.True(await DeleteAsync("urn:a"));
    }

    // ---- discovery and purge --------------------------------------------------------------------------------

    [Fact]
    public async Task Attribute_usage_counts_entities_per_type_attribute_and_attribute_type()
    {
        var two = Entity("urn:2", [Vehicle, Building], (Speed, 1));
        two[Speed]!.AsArray().Add(new JsonObject { ["type"] = "Property", ["value"] = 2, ["datasetId"] = "urn:ds:1" });
        two[Owner] = new JsonArray(new JsonObject { ["type"] = "Relationship", ["object"] = "urn:p" });
        var four = Entity("urn:4", Vehicle);
        four[Mixed] = new JsonArray(
            new JsonObject { ["type"] = "Property", ["value"] = 1 },
            new JsonObject { ["type"] = "Relationship", ["object"] = "urn:x", ["datasetId"] = "urn:ds:1" });
        await InsertAllAsync(WithLocation(Entity("urn:1", Vehicle, (Speed, 1)), 1, 2), two, Entity("urn:3", Building), four);

        var usage = await Store.GetAttributeUsageAsync("", None);

        AttributeUsage[] expected =
        [
            new(Vehicle, Speed, "Property", 2),
            new(Vehicle, Location, "GeoProperty", 1),
            new(Vehicle, Owner, "Relationship", 1),
            new(Vehicle, Mixed, "Property", 1),
            new(Vehicle, Mixed, "Relationship", 1),
            new(Building, Speed, "Property", 1),
            new(Building, Owner, "Relationship", 1),
            new(Building, null, null, 1),
        ];
        Assert.Equal(expected.ToHashSet(), usage.ToHashSet());
        Assert.Equal(expected.Length, usage.Count);
    }

    [Fact]
    public async Task QueryIds_returns_every_match_ignoring_paging_and_sees_the_transactions_own_writes()
    {
        for (var i = 0; i < 30; i++)
        {
            await InsertAsync(Entity($"urn:{i:D2}", i < 25 ? Vehicle : Building));
        }

        var ids = await Store.WriteAsync("", false, async (s, ct) =>
        {
            await s.InsertAsync(Entity("urn:new", Vehicle), ct);
            await s.DeleteAsync("urn:00", ct);
            return await s.QueryIdsAsync(new EntityQuery { Type = new AnyTypeOf(Vehicle), Offset = 3, Limit = 2 }, ct);
        }, None);

        Assert.Equal(Enumerable.Range(1, 24).Select(i => $"urn:{i:D2}").Append("urn:new"), ids);
    }

    // ---- export ----------------------------------------------------------------------------------------

    protected async Task<List<JsonObject>> ExportAsync(string tenant = "")
    {
        var entities = new List<JsonObject>();
        await foreach (var entity in Store.ExportEntitiesAsync(tenant, None))
        {
            entities.Add(entity);
        }

        return entities;
    }

    [Fact]
    public async Task Export_yields_every_entity_as_stored_in_creation_order()
    {
        var c = Entity("urn:c", Vehicle, (Speed, 1));
        var a = WithLocation(Entity("urn:a", [Vehicle, Sensor], (Speed, 2), (Owner, "x")), 10, 20);
        var b = Entity("urn:b", Building);
        var gone = Entity("urn:gone", Building);
        await InsertAllAsync(c, gone, a, b);
        Assert.True(await DeleteAsync("urn:gone"));
        var updated = Entity("urn:c", Vehicle, (Speed, 99));
        updated["modifiedAt"] = "2026-11-23T11:00:00.000000Z";
        await UpdateAsync(updated);

        var exported = await ExportAsync();

        Assert.Equal(["urn:c", "urn:a", "urn:b"], exported.Select(e => (string)e["id"]!));
        AssertSameJson(updated, exported[0]);
        AssertSameJson(a, exported[1]);
        AssertSameJson(b, exported[2]);
    }

    [Fact]
    public async Task Export_is_confined_to_its_tenant()
    {
        Assert.True(await InsertAsync(Entity("urn:default", Vehicle)));
        Assert.True(await InsertAsync(Entity("urn:one", Vehicle), "one"));
        Assert.True(await InsertAsync(Entity("urn:two", Vehicle), "two"));

        Assert.Equal(["urn:default"], (await ExportAsync()).Select(e => (string)e["id"]!));
        Assert.Equal(["urn:one"], (await ExportAsync("one")).Select(e => (string)e["id"]!));
        Assert.Equal(["urn:two"], (await ExportAsync("two")).Select(e => (string)e["id"]!));
    }

    [Fact]
    public async Task Export_of_an_unknown_or_empty_tenant_yields_nothing()
    {
        Assert.Empty(await ExportAsync("missing"));
        Assert.Empty(await ExportAsync());
    }

    [Fact]
    public async Task Export_of_thousands_of_entities_loses_and_repeats_none()
    {
        // Several times any sensible chunk size, and not a multiple of one.
        const int count = 2_345;
        await Store.WriteAsync("", true, async (s, ct) =>
        {
            for (var i = 0; i < count; i++)
            {
                Assert.True(await s.InsertAsync(Entity($"urn:e:{i:D5}", Vehicle, (Speed, i)), ct));
            }

            return true;
        }, None);

        var exported = await ExportAsync();

        Assert.Equal(Enumerable.Range(0, count).Select(i => $"urn:e:{i:D5}"), exported.Select(e => (string)e["id"]!));
        Assert.Equal(count - 1, (int)exported[^1][Speed]![0]!["value"]!);
    }

    [Fact]
    public async Task Export_stops_when_cancelled()
    {
        await InsertAllAsync(Entity("urn:a", Vehicle), Entity("urn:b", Vehicle));
        using var cancellation = new CancellationTokenSource();
        await cancellation.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in Store.ExportEntitiesAsync("", cancellation.Token))
            {
            }
        });
    }

    // ---- hosted @context documents ---------------------------------------------------------------------

    [Fact]
    public async Task Hosted_contexts_can_be_put_read_listed_replaced_and_deleted()
    {
        var contexts = HostedContextsOf(Store);
        var at = new DateTimeOffset(2026, 11, 23, 10, 0, 0, TimeSpan.Zero);
        var one = new StoredContextDocument("one", "Hosted", """{"@context":{"a":"https://example.org/a"}}""", at);
        var two = new StoredContextDocument("two", "ImplicitlyCreated", """{"@context":["https://example.org/c.jsonld"]}""", at.AddMinutes(1));

        Assert.Null(await contexts.GetAsync("one", None));
        await contexts.PutAsync(one, None);
        await contexts.PutAsync(two, None);
        Assert.Equal(one, await contexts.GetAsync("one", None));
        Assert.Equal([one, two], (await contexts.ListAsync(None)).OrderBy(d => d.Id, StringComparer.Ordinal));

        var replaced = one with { Body = """{"@context":{"b":"https://example.org/b"}}""" };
        await contexts.PutAsync(replaced, None);
        Assert.Equal(replaced, await contexts.GetAsync("one", None));

        Assert.True(await contexts.DeleteAsync("one", None));
        Assert.False(await contexts.DeleteAsync("one", None));
        Assert.Null(await contexts.GetAsync("one", None));
        Assert.Equal([two], await contexts.ListAsync(None));
    }
}
