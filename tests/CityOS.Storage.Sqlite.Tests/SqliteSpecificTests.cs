using System.Text.Json.Nodes;
using CityOS.Broker.ComplianceTests;
using CityOS.Broker.Storage;
using CityOS.NgsiLd.Errors;
using CityOS.NgsiLd.Geo;
using CityOS.NgsiLd.JsonLd;
using CityOS.NgsiLd.Query;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace CityOS.Storage.Sqlite.Tests;

/// <summary>Behaviour of the SQLite store beyond the shared contract: file layout, WAL, indexes, group commit.</summary>
#pragma warning disable CA1001 // The store is disposed by IAsyncLifetime.DisposeAsync, xUnit's async teardown.
public sealed class SqliteSpecificTests : IAsyncLifetime
{
    private const string Ns = "https://example.org/ns/";
    private const string Vehicle = Ns + "Vehicle";
    private const string Building = Ns + "Building";
    private const string Speed = Ns + "speed";
    private const string Location = "https://uri.etsi.org/ngsi-ld/location";

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "cityos-sqlite-" + Guid.NewGuid().ToString("N"));
    private SqliteEntityStore _store = null!;

    public async Task InitializeAsync()
    {
        _store = new SqliteEntityStore(_directory);
        await _store.InitializeAsync(CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    private static JsonObject Entity(string id, string type, double? lon = null, double? lat = null)
    {
        var entity = new JsonObject { ["id"] = id, ["type"] = new JsonArray(type), [Speed] = new JsonArray(new JsonObject { ["type"] = "Property", ["value"] = 1 }) };
        if (lon is not null)
        {
            entity[Location] = new JsonArray(new JsonObject
            {
                ["type"] = "GeoProperty",
                ["value"] = new JsonObject { ["type"] = "Point", ["coordinates"] = new JsonArray(lon, lat) },
            });
        }

        return entity;
    }

    private Task<bool> InsertAsync(JsonObject entity) => _store.WriteAsync("", false, (s, ct) => s.InsertAsync(entity, ct), CancellationToken.None);

    private Task<bool> UpdateAsync(JsonObject entity) =>
        _store.WriteAsync("", false, async (s, ct) => { await s.UpdateAsync(entity, ct); return true; }, CancellationToken.None);

    private SqliteConnection OpenSide()
    {
        var connection = new SqliteConnection($"Data Source={Path.Combine(_directory, SqliteEntityStore.FileName)};Mode=ReadOnly;Pooling=False");
        connection.Open();
        return connection;
    }

    private object? Scalar(string sql)
    {
        using var connection = OpenSide();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    private List<(long Id, double MinX, double MaxX, double MinY, double MaxY, string Prop)> GeoRows()
    {
        using var connection = OpenSide();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, min_x, max_x, min_y, max_y, prop FROM entity_geo ORDER BY id";
        using var reader = command.ExecuteReader();
        var rows = new List<(long, double, double, double, double, string)>();
        while (reader.Read())
        {
            rows.Add((reader.GetInt64(0), reader.GetDouble(1), reader.GetDouble(2), reader.GetDouble(3), reader.GetDouble(4), reader.GetString(5)));
        }

        return rows;
    }

    [Fact]
    public void Database_is_one_file_in_the_data_directory_in_WAL_mode()
    {
        Assert.True(File.Exists(Path.Combine(_directory, "cityos.db")));
        Assert.Equal("wal", Scalar("PRAGMA journal_mode"));
        Assert.Equal((long)CityOS.Storage.Sqlite.Internal.SqliteSchema.CurrentVersion, Scalar("PRAGMA user_version"));
    }

    // A full table or index scan shows as "SCAN <alias>"; only the json_each/R-tree virtual tables may be scanned.
    private static bool IsTableScan(string planLine) =>
        planLine.StartsWith("SCAN", StringComparison.Ordinal) && !planLine.Contains("VIRTUAL TABLE", StringComparison.Ordinal);

    [Fact]
    public async Task Committed_writes_reach_the_database_file_through_background_checkpoints()
    {
        var file = new FileInfo(Path.Combine(_directory, SqliteEntityStore.FileName));
        var before = file.Length;
        for (var i = 0; i < 10; i++)
        {
            await _store.WriteAsync("", false, async (s, ct) =>
            {
                for (var k = 0; k < 100; k++)
                {
                    await s.InsertAsync(Entity($"urn:{i}:{k}", Vehicle, k, k), ct);
                }

                return true;
            }, CancellationToken.None);
        }

        // Far below the writer's 64 MB autocheckpoint backstop, only the background checkpointer moves pages
        // into the main file.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (new FileInfo(file.FullName).Length <= before && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.True(new FileInfo(file.FullName).Length > before);
    }

    [Fact]
    public async Task Type_query_plan_uses_the_type_index_and_never_scans_a_table()
    {
        foreach (var query in new[]
        {
            new EntityQuery { Type = new AnyTypeOf(Vehicle) },
            new EntityQuery { Type = new AnyTypeOf(Vehicle, Building) },
            new EntityQuery { Type = new AnyTypeOf(Vehicle), Attrs = [Speed] },
        })
        {
            var plan = await _store.ExplainQueryAsync("", query, CancellationToken.None);

            // The (tenant, type) key is entity_types' primary key; the plan shows it under its alias.
            Assert.Contains(plan, line => line.StartsWith("SEARCH", StringComparison.Ordinal) && line.Contains("PRIMARY KEY (tenant=? AND type=?)", StringComparison.Ordinal));
            Assert.DoesNotContain(plan, IsTableScan);
        }
    }

    [Fact]
    public async Task Id_attrs_and_unfiltered_query_plans_never_scan_a_table()
    {
        foreach (var query in new[]
        {
            new EntityQuery { Ids = ["urn:a", "urn:b"] },
            new EntityQuery { Attrs = [Speed] },
            new EntityQuery { Attrs = [Speed, Location] },
            new EntityQuery { Ids = ["urn:a"], Attrs = [Speed] },
            new EntityQuery(),
        })
        {
            var plan = await _store.ExplainQueryAsync("", query, CancellationToken.None);

            Assert.NotEmpty(plan);
            Assert.DoesNotContain(plan, IsTableScan);
        }
    }

    [Fact]
    public async Task Unfiltered_query_reads_in_creation_order_without_sorting()
    {
        var plan = await _store.ExplainQueryAsync("", new EntityQuery(), CancellationToken.None);

        Assert.DoesNotContain(plan, line => line.Contains("TEMP B-TREE", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Rtree_holds_one_box_per_located_entity_and_follows_updates_and_deletes()
    {
        await InsertAsync(Entity("urn:a", Vehicle, 10.5, 20.25));
        await InsertAsync(Entity("urn:b", Vehicle));

        var row = Assert.Single(GeoRows());
        Assert.Equal(Location, row.Prop);
        Assert.InRange(row.MinX, 10.49, 10.5);
        Assert.InRange(row.MaxX, 10.5, 10.51);
        Assert.InRange(row.MinY, 20.24, 20.25);
        Assert.InRange(row.MaxY, 20.25, 20.26);

        // A value-only update leaves the R-tree row alone; a move replaces it; losing the location removes it.
        await UpdateAsync(Entity("urn:a", Building, 10.5, 20.25));
        Assert.Equal(row, Assert.Single(GeoRows()));
        await UpdateAsync(Entity("urn:a", Vehicle, -3, -4));
        Assert.InRange(Assert.Single(GeoRows()).MinX, -3.01, -3);
        await UpdateAsync(Entity("urn:a", Vehicle));
        Assert.Empty(GeoRows());

        await UpdateAsync(Entity("urn:a", Vehicle, 1, 1));
        Assert.True(await _store.WriteAsync("", false, (s, ct) => s.DeleteAsync("urn:a", ct), CancellationToken.None));
        Assert.Empty(GeoRows());
    }

    [Fact]
    public async Task Every_geometry_instance_gets_its_own_box()
    {
        var entity = Entity("urn:a", Vehicle);
        entity[Location] = new JsonArray(
            new JsonObject
            {
                ["type"] = "GeoProperty",
                ["value"] = JsonNode.Parse("""{"type":"Polygon","coordinates":[[[0,0],[4,0],[4,3],[0,3],[0,0]]]}"""),
            },
            new JsonObject
            {
                ["type"] = "GeoProperty",
                ["datasetId"] = "urn:ds:2",
                ["value"] = JsonNode.Parse("""{"type":"MultiLineString","coordinates":[[[-1,-2],[5,6]],[[7,-8],[0,1]]]}"""),
            });

        await InsertAsync(entity);

        var rows = GeoRows();
        Assert.Equal(2, rows.Count);
        Assert.Equal((0d, 4d, 0d, 3d), (rows[0].MinX, rows[0].MaxX, rows[0].MinY, rows[0].MaxY));
        Assert.Equal((-1d, 7d, -8d, 6d), (rows[1].MinX, rows[1].MaxX, rows[1].MinY, rows[1].MaxY));
    }

    [Fact]
    public async Task Geo_query_with_a_search_box_takes_candidates_from_the_rtree()
    {
        await InsertAsync(Entity("urn:in1", Vehicle, 10, 10));
        await InsertAsync(Entity("urn:out", Vehicle, 50, 50));
        await InsertAsync(Entity("urn:none", Vehicle));
        await InsertAsync(Entity("urn:in2", Building, 11, 9));
        var geo = GeoQuery.Parse("within", "Polygon", "[[[9,8],[12,8],[12,11],[9,11],[9,8]]]", null, LdContext.Core);
        Assert.Equal(Location, geo.GeoProperty);

        // Accepting every candidate shows what the R-tree let through; the public path also applies Matches.
        var page = await _store.QueryEntitiesAsync("", new EntityQuery { Geo = geo, Count = true }, _ => true, CancellationToken.None);
        Assert.Equal(["urn:in1", "urn:in2"], page.Entities.Select(e => (string)e["id"]!));
        Assert.Equal(2, page.TotalCount);
        var exact = await _store.QueryEntitiesAsync("", new EntityQuery { Geo = geo, Count = true }, CancellationToken.None);
        Assert.Equal(["urn:in1", "urn:in2"], exact.Entities.Select(e => (string)e["id"]!));

        var otherProperty = GeoQuery.Parse("within", "Polygon", "[[[9,8],[12,8],[12,11],[9,11],[9,8]]]", Ns + "elsewhere", LdContext.Core);
        Assert.Empty((await _store.QueryEntitiesAsync("", new EntityQuery { Geo = otherProperty }, _ => true, CancellationToken.None)).Entities);

        var plan = await _store.ExplainQueryAsync("", new EntityQuery { Geo = geo }, CancellationToken.None);
        Assert.Contains(plan, line => line.Contains("entity_geo", StringComparison.Ordinal) && line.Contains("VIRTUAL TABLE INDEX", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Geo_query_with_a_type_is_driven_by_the_rtree_not_the_type_index()
    {
        // Driving from the type index parsed every doc of the type (100,000 in the benchmark) for a box
        // holding a few hundred; the type is checked on the types column of the R-tree's candidates instead.
        await InsertAsync(Entity("urn:near", Vehicle, 10, 10));
        await InsertAsync(Entity("urn:far", Vehicle, 50, 50));
        await InsertAsync(Entity("urn:other-type", Building, 10.001, 10));
        var geo = GeoQuery.Parse("near;maxDistance==2000", "Point", "[10,10]", null, LdContext.Core);
        var query = new EntityQuery { Geo = geo, Type = new AnyTypeOf(Vehicle), Count = true };

        var plan = await _store.ExplainQueryAsync("", query, CancellationToken.None);
        var page = await _store.QueryEntitiesAsync("", query, CancellationToken.None);

        Assert.Contains(plan, line => line.Contains("entity_geo", StringComparison.Ordinal) && line.Contains("VIRTUAL TABLE INDEX", StringComparison.Ordinal));
        Assert.DoesNotContain(plan, line => line.Contains("type=?", StringComparison.Ordinal));
        Assert.Equal(["urn:near"], page.Entities.Select(e => (string)e["id"]!));
        Assert.Equal(1, page.TotalCount);
    }

    [Fact]
    public async Task Concurrent_writes_share_group_commits()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var blocker = _store.WriteAsync("", false, async (s, ct) =>
        {
            started.SetResult();
            await gate.Task;
            return await s.InsertAsync(Entity("urn:first", Vehicle), ct);
        }, CancellationToken.None);
        await started.Task;
        var before = _store.Commits;

        var writes = Enumerable.Range(0, 100).Select(i => InsertAsync(Entity($"urn:{i}", Vehicle))).ToList();
        gate.SetResult();
        await blocker;
        await Task.WhenAll(writes);

        // The blocked group commits once; the 100 queued writes then share commits (a slow machine may
        // split them by the time budget, but never into one commit each).
        Assert.InRange(_store.Commits - before, 2, 20);
        Assert.Equal(101, (await _store.QueryEntitiesAsync("", new EntityQuery { Count = true, Limit = 0 }, CancellationToken.None)).TotalCount);
    }

    [Fact]
    public async Task A_transaction_that_ran_long_commits_and_the_rest_of_the_group_follows_in_the_next()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var blocker = _store.WriteAsync("", false, async (_, _) =>
        {
            started.SetResult();
            await gate.Task;
            return true;
        }, CancellationToken.None);
        await started.Task;
        var before = _store.Commits;

        var slow = _store.WriteAsync("", false, async (s, ct) =>
        {
            await s.InsertAsync(Entity("urn:slow", Vehicle), ct);
            await Task.Delay(300, ct);
            return true;
        }, CancellationToken.None);
        var rest = Enumerable.Range(0, 5).Select(i => InsertAsync(Entity($"urn:{i}", Vehicle))).ToList();
        gate.SetResult();
        await blocker;
        await slow;
        await Task.WhenAll(rest);

        // blocker | slow (over the time budget, so it commits alone) | the five others.
        Assert.Equal(3, _store.Commits - before);
        Assert.Equal(6, (await _store.QueryEntitiesAsync("", new EntityQuery { Count = true, Limit = 0 }, CancellationToken.None)).TotalCount);
    }

    [Fact]
    public async Task Tenant_created_by_failing_work_is_not_kept()
    {
        await Assert.ThrowsAsync<InvalidOperationException>(() => _store.WriteAsync<bool>("city9", true, async (s, ct) =>
        {
            await s.InsertAsync(Entity("urn:a", Vehicle), ct);
            throw new InvalidOperationException("boom");
        }, CancellationToken.None));

        Assert.False(await _store.TenantExistsAsync("city9", CancellationToken.None));
        var error = await Assert.ThrowsAsync<NgsiLdException>(() => _store.WriteAsync("city9", false, (_, _) => ValueTask.FromResult(1), CancellationToken.None));
        Assert.Equal(ErrorType.NonexistentTenant, error.Type);
    }

    [Fact]
    public async Task Update_of_a_missing_entity_fails_with_ResourceNotFound()
    {
        var error = await Assert.ThrowsAsync<NgsiLdException>(() => UpdateAsync(Entity("urn:missing", Vehicle)));

        Assert.Equal(ErrorType.ResourceNotFound, error.Type);
    }

    [Fact]
    public async Task Entity_without_a_type_array_is_refused()
    {
        var entity = new JsonObject { ["id"] = "urn:a", ["type"] = Vehicle };

        await Assert.ThrowsAsync<ArgumentException>(() => InsertAsync(entity));
        Assert.Null(await _store.GetEntityAsync("", "urn:a", CancellationToken.None));
    }

    [Fact]
    public async Task File_is_reopened_after_dispose_with_its_data()
    {
        await InsertAsync(Entity("urn:a", Vehicle, 1, 2));
        await _store.DisposeAsync();

        _store = new SqliteEntityStore(_directory);
        await _store.InitializeAsync(CancellationToken.None);

        Assert.NotNull(await _store.GetEntityAsync("", "urn:a", CancellationToken.None));
        Assert.Single(GeoRows());
    }

    [Fact]
    public async Task Store_refuses_use_after_dispose()
    {
        await _store.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => InsertAsync(Entity("urn:a", Vehicle)));
        Assert.False(await _store.IsReadyAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Writes_queued_before_dispose_are_committed()
    {
        var writes = Enumerable.Range(0, 50).Select(i => InsertAsync(Entity($"urn:{i}", Vehicle))).ToList();
        await _store.DisposeAsync();

        Assert.All(await Task.WhenAll(writes), Assert.True);
        Assert.Equal(50L, Scalar("SELECT COUNT(*) FROM entities"));
    }

    [Fact]
    public async Task Non_ascii_text_survives_insert_update_get_and_query_unchanged()
    {
        // Text is bound as UTF-16 (ids, IRIs) and UTF-8 (docs) and read back as UTF-8: nothing may be mangled.
        const string Id = "urn:ngsi-ld:Trạm:Bình-Dương-東京-😀";
        var name = Ns + "tên";
        var entity = Entity(Id, Ns + "Trạm", 106.65, 11.05);
        entity[name] = new JsonArray(new JsonObject { ["type"] = "Property", ["value"] = "Đà Nẵng – “quote” \\ \"x\" 😀" });
        Assert.True(await InsertAsync(entity));

        var stored = await _store.GetEntityAsync("", Id, CancellationToken.None);
        Assert.True(JsonNode.DeepEquals(entity, stored));

        entity[name]![0]!["value"] = "Huế 🌧";
        await UpdateAsync(entity);
        var page = await _store.QueryEntitiesAsync("", new EntityQuery { Type = new AnyTypeOf(Ns + "Trạm"), Attrs = [name] }, CancellationToken.None);
        Assert.True(JsonNode.DeepEquals(entity, Assert.Single(page.Entities)));
        var inWriter = await _store.WriteAsync("", false, (s, ct) => s.GetAsync(Id, ct), CancellationToken.None);
        Assert.Equal("Huế 🌧", (string?)inWriter![name]![0]!["value"]);
    }

    [Theory]
    [InlineData("speed>20")]
    [InlineData("speed>=20")]
    [InlineData("speed<20")]
    [InlineData("speed<=20")]
    [InlineData("speed>20;temp<3")]
    [InlineData("temp<3;speed>=20;speed<60")]
    [InlineData("speed>20|temp<3")]
    [InlineData("speed>9007199254740992")]
    [InlineData("speed>=9007199254740993")]
    [InlineData("speed<-1")]
    [InlineData("speed<1e308")]
    public async Task Numeric_q_prefilter_in_sql_returns_exactly_what_the_evaluator_accepts(string q)
    {
        var expression = QParser.Parse(q, LdContext.Core);
        var speed = FirstAttribute(expression, "speed");
        var temp = speed.Replace("speed", "temp", StringComparison.Ordinal);
        JsonArray One(JsonNode? value) => new(new JsonObject { ["type"] = "Property", ["value"] = value });
        var shapes = new JsonNode?[]
        {
            One(5), One(50), One(20), One(20.0000000001), One(19.9999999999), One(-5), One(JsonValue.Create(9007199254740993L)),
            One("50"), One(new JsonArray(5, 50)), One(true), One(null), One(new JsonObject { ["a"] = 50 }),
            new JsonArray(new JsonObject { ["type"] = "Property", ["value"] = 5 }, new JsonObject { ["type"] = "Property", ["value"] = 50, ["datasetId"] = "urn:ds:2" }),
            new JsonArray(new JsonObject { ["type"] = "JsonProperty", ["json"] = 50 }),
            new JsonObject { ["type"] = "Property", ["value"] = 50 },
            null,
        };
        var all = new List<JsonObject>();
        for (var i = 0; i < shapes.Length * 2; i++)
        {
            var entity = new JsonObject { ["id"] = $"urn:e:{i:D2}", ["type"] = new JsonArray(Vehicle) };
            if (shapes[i % shapes.Length] is { } shape)
            {
                entity[speed] = shape.DeepClone();
            }

            entity[temp] = One(i < shapes.Length ? 1 : 10);
            all.Add(entity);
            Assert.True(await InsertAsync(entity));
        }

        var query = new EntityQuery { Q = expression, Type = new AnyTypeOf(Vehicle), Limit = 1000, Count = true };
        var expected = all.Where(query.Matches).Select(e => (string)e["id"]!).ToList();
        var page = await _store.QueryEntitiesAsync("", query, CancellationToken.None);

        Assert.Equal(expected, page.Entities.Select(e => (string)e["id"]!));
        Assert.Equal(expected.Count, page.TotalCount);
    }

    private static string FirstAttribute(QExpression expression, string name) => expression switch
    {
        QComparison c when c.Path.Attribute.EndsWith(name, StringComparison.Ordinal) => c.Path.Attribute,
        QAnd a => a.Operands.Select(o => FirstAttributeOrNull(o, name)).First(x => x is not null)!,
        QOr o => o.Operands.Select(x => FirstAttributeOrNull(x, name)).First(x => x is not null)!,
        _ => throw new InvalidOperationException("no " + name),
    };

    private static string? FirstAttributeOrNull(QExpression expression, string name)
    {
        try
        {
            return FirstAttribute(expression, name);
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    [Fact]
    public async Task Database_from_a_newer_version_is_refused_with_a_clear_message()
    {
        await _store.DisposeAsync();
        await using (var connection = new SqliteConnection($"Data Source={Path.Combine(_directory, SqliteEntityStore.FileName)};Pooling=False"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA user_version = 99";
            await command.ExecuteNonQueryAsync();
        }

        _store = new SqliteEntityStore(_directory);
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => _store.InitializeAsync(CancellationToken.None));

        Assert.Contains("schema version 99", error.Message, StringComparison.Ordinal);
        Assert.False(await _store.IsReadyAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Hosted_context_store_opens_the_database_on_first_use()
    {
        await _store.DisposeAsync();
        _store = new SqliteEntityStore(_directory);
        var contexts = new SqliteHostedContextStore(_store);

        await contexts.PutAsync(new StoredContextDocument("c", "Hosted", "{}", DateTimeOffset.UnixEpoch), CancellationToken.None);

        Assert.Equal("{}", (await contexts.GetAsync("c", CancellationToken.None))!.Body);
    }

    [Fact]
    public async Task AddSqliteStore_registers_one_store_for_entities_and_contexts()
    {
        var services = new ServiceCollection().AddSqliteStore(_directory);
        await using var provider = services.BuildServiceProvider();

        var entities = provider.GetRequiredService<IEntityStore>();
        var contexts = provider.GetRequiredService<IHostedContextStore>();

        var store = Assert.IsType<SqliteEntityStore>(entities);
        Assert.Same(store, provider.GetRequiredService<SqliteEntityStore>());
        Assert.IsType<SqliteHostedContextStore>(contexts);
        Assert.Equal(Path.Combine(Path.GetFullPath(_directory), "cityos.db"), store.DatabasePath);
        Assert.Equal("sqlite", entities.Name);
    }
}
#pragma warning restore CA1001
