using System.Text.Json.Nodes;
using CityOS.Broker.Storage;
using CityOS.Server.Hosting;
using CityOS.Server.Transfer;

namespace CityOS.Server.Tests.Transfer;

/// <summary><c>cityos export</c> / <c>cityos import</c> against real stores and real files.</summary>
public sealed class ExportImportTests : IAsyncLifetime
{
    private const string Ns = "https://example.org/ns/";
    private static readonly CancellationToken None = CancellationToken.None;
    private static readonly DateTimeOffset At = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
    private readonly TransferStores _stores = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _stores.CleanUpAsync();

    private static JsonObject Entity(string id, string type, int speed, string created = "2026-11-23T10:00:00.000000Z") => new()
    {
        ["id"] = id,
        ["type"] = new JsonArray(Ns + type),
        ["createdAt"] = created,
        ["modifiedAt"] = "2026-11-23T11:30:00.123456Z",
        [Ns + "speed"] = new JsonArray(new JsonObject
        {
            ["type"] = "Property", ["value"] = speed, ["unitCode"] = "KMH", ["observedAt"] = "2026-11-23T09:59:00Z",
            ["createdAt"] = created, ["modifiedAt"] = created,
        }),
        ["https://uri.etsi.org/ngsi-ld/location"] = new JsonArray(new JsonObject
        {
            ["type"] = "GeoProperty",
            ["value"] = new JsonObject { ["type"] = "Point", ["coordinates"] = new JsonArray(106.6 + (speed / 1000.0), 10.8) },
        }),
        [Ns + "owner"] = new JsonArray(new JsonObject { ["type"] = "Relationship", ["object"] = "urn:ngsi-ld:Person:" + speed }),
    };

    private async Task<string> ExportToFileAsync(IEntityStore store, params string[] tenants)
    {
        var path = _stores.TempFile("export.ndjson");
        await using (var file = File.Create(path))
        {
            await EntityExporter.ExportAsync(store, file, tenants, At, None);
        }

        return path;
    }

    private static void AssertSameContents(List<(string Tenant, JsonObject Entity)> expected, List<(string Tenant, JsonObject Entity)> actual)
    {
        Assert.Equal(expected.Select(e => (e.Tenant, (string)e.Entity["id"]!)), actual.Select(e => (e.Tenant, (string)e.Entity["id"]!)));
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.True(JsonNode.DeepEquals(expected[i].Entity, actual[i].Entity), $"{expected[i].Entity.ToJsonString()} became {actual[i].Entity.ToJsonString()}");
        }
    }

    /// <summary>A SQLite store with three tenants holding entities and one empty tenant.</summary>
    private async Task<IEntityStore> PopulatedSqliteAsync()
    {
        var store = await _stores.SqliteAsync();
        await TransferStores.InsertAsync(store, "", Entity("urn:v:2", "Vehicle", 2), Entity("urn:v:1", "Vehicle", 1, "2026-01-01T00:00:00.000000Z"));
        await TransferStores.InsertAsync(store, "city", Entity("urn:b:1", "Building", 10), Entity("urn:v:1", "Vehicle", 11));
        // Non-ASCII text, U+FFFD included, must survive (export escapes it, so import's UTF-8 check passes).
        var named = Entity("urn:s:2", "Sensor", 21);
        named[Ns + "name"] = new JsonArray(new JsonObject { ["type"] = "Property", ["value"] = "Cảng Sài Gòn \uFFFD" });
        await TransferStores.InsertAsync(store, "urn:ngsi-ld:tenant:port", Entity("urn:s:1", "Sensor", 20), named);
        await store.WriteAsync("empty", true, static (_, _) => ValueTask.FromResult(true), None);
        return store;
    }

    [Fact]
    public async Task Round_trip_sqlite_to_file_to_postgres_to_file_keeps_every_entity_tenant_and_timestamp()
    {
        var sqlite = await PopulatedSqliteAsync();
        var first = await ExportToFileAsync(sqlite);

        var postgres = await _stores.PostgresAsync();
        var imported = await EntityImporter.ImportAsync(postgres, first, ImportMode.Create, None);
        var second = await ExportToFileAsync(postgres);

        Assert.Equal(6, imported.Created);
        Assert.Equal(["", "city", "empty", "urn:ngsi-ld:tenant:port"], await postgres.ListTenantsAsync(None));
        AssertSameContents(await TransferStores.ContentsAsync(sqlite), await TransferStores.ContentsAsync(postgres));
        // Byte for byte the same entity lines; only the header's source differs.
        var firstLines = await File.ReadAllLinesAsync(first);
        var secondLines = await File.ReadAllLinesAsync(second);
        Assert.Equal(firstLines[1..], secondLines[1..]);
        Assert.Equal("""{"format":"cityos-export","version":1,"createdAt":"2026-11-23T12:00:00.000000Z","source":"postgres","tenants":["","city","empty","urn:ngsi-ld:tenant:port"]}""", secondLines[0]);
        // The imported entities are indexed, not just stored: a type query finds them.
        var page = await postgres.QueryEntitiesAsync("city", new EntityQuery { Type = new CityOS.NgsiLd.Query.TypeName(Ns + "Vehicle") }, None);
        Assert.Equal(["urn:v:1"], page.Entities.Select(e => (string)e["id"]!));
    }

    [Fact]
    public async Task Export_writes_a_header_then_one_line_per_entity_in_creation_order()
    {
        var sqlite = await PopulatedSqliteAsync();

        var lines = await File.ReadAllLinesAsync(await ExportToFileAsync(sqlite, "", "city"));

        Assert.Equal("""{"format":"cityos-export","version":1,"createdAt":"2026-11-23T12:00:00.000000Z","source":"sqlite","tenants":["","city"]}""", lines[0]);
        Assert.Equal(
            [("", "urn:v:2"), ("", "urn:v:1"), ("city", "urn:b:1"), ("city", "urn:v:1")],
            lines[1..].Select(l => JsonNode.Parse(l)!).Select(n => ((string)n["tenant"]!, (string)n["entity"]!["id"]!)));
    }

    [Fact]
    public async Task Export_of_an_unknown_tenant_fails_before_writing()
    {
        var sqlite = await PopulatedSqliteAsync();
        using var output = new MemoryStream();

        await Assert.ThrowsAsync<InvalidOperationException>(() => EntityExporter.ExportAsync(sqlite, output, ["nope"], At, None));
        Assert.Equal(0, output.Length);
    }

    public static TheoryData<string, int, string> DamagedFiles => new()
    {
        { "bad JSON on line 5", 5, "not valid JSON" },
        { "unknown version", 1, "unknown export format version 2" },
        { "missing id", 3, "no \"id\"" },
        { "type not an array", 4, "no \"type\" array" },
        { "tenant not in header", 4, "not listed in the header" },
        { "tenant lines not consecutive", 5, "not on consecutive lines" },
        { "id twice in a tenant", 5, "appears twice" },
        { "no header", 1, "not a cityos-export header" },
    };

    [Theory]
    [MemberData(nameof(DamagedFiles))]
    public async Task Import_of_a_damaged_file_names_the_line_and_leaves_the_store_unchanged(string damage, int line, string reason)
    {
        var good = (await File.ReadAllLinesAsync(await ExportToFileAsync(await PopulatedSqliteAsync()))).ToList();
        // Lines: 1 header, 2-3 default tenant, 4-5 "city", 6-7 port.
        switch (damage)
        {
            case "bad JSON on line 5": good[4] = good[4][..^3]; break;
            case "unknown version": good[0] = good[0].Replace("\"version\":1", "\"version\":2", StringComparison.Ordinal); break;
            case "missing id": good[2] = good[2].Replace("\"id\":", "\"ident\":", StringComparison.Ordinal); break;
            case "type not an array": good[3] = good[3].Replace("\"type\":[\"https://example.org/ns/Building\"]", "\"type\":\"https://example.org/ns/Building\"", StringComparison.Ordinal); break;
            case "tenant not in header": good[3] = good[3].Replace("\"tenant\":\"city\"", "\"tenant\":\"town\"", StringComparison.Ordinal); break;
            case "tenant lines not consecutive": good[4] = good[4].Replace("\"tenant\":\"city\"", "\"tenant\":\"\"", StringComparison.Ordinal).Replace("urn:v:1", "urn:v:9", StringComparison.Ordinal); break;
            case "id twice in a tenant": good[3] = good[4]; break;
            case "no header": good.RemoveAt(0); break;
        }

        var path = _stores.TempFile("damaged.ndjson");
        await File.WriteAllLinesAsync(path, good);
        var target = await _stores.SqliteAsync();
        await TransferStores.InsertAsync(target, "", Entity("urn:existing", "Vehicle", 1));
        var before = await TransferStores.ContentsAsync(target);

        var error = await Assert.ThrowsAsync<ImportFileException>(() => EntityImporter.ImportAsync(target, path, ImportMode.Upsert, None));

        Assert.Equal(line, error.Line);
        Assert.Contains(reason, error.Reason, StringComparison.Ordinal);
        Assert.StartsWith($"line {line}: ", error.Message, StringComparison.Ordinal);
        Assert.Equal([""], await target.ListTenantsAsync(None));
        AssertSameContents(before, await TransferStores.ContentsAsync(target));
    }

    [Fact]
    public async Task Import_of_bytes_that_are_not_utf8_names_their_line()
    {
        var path = _stores.TempFile("latin1.ndjson");
        var lines = await File.ReadAllLinesAsync(await ExportToFileAsync(await PopulatedSqliteAsync()));
        await using (var file = File.Create(path))
        {
            await file.WriteAsync(System.Text.Encoding.UTF8.GetBytes(string.Join('\n', lines[..3]) + "\n"));
            await file.WriteAsync(new byte[] { (byte)'{', 0xE9, (byte)'}', (byte)'\n' });
        }

        var target = await _stores.SqliteAsync();

        var error = await Assert.ThrowsAsync<ImportFileException>(() => EntityImporter.ImportAsync(target, path, ImportMode.Create, None));

        Assert.Equal("line 4: not valid UTF-8", error.Message);
        Assert.Empty(await TransferStores.ContentsAsync(target));
    }

    [Fact]
    public async Task Import_in_create_mode_of_an_entity_that_exists_fails_with_its_line_and_writes_no_tenant()
    {
        var file = await ExportToFileAsync(await PopulatedSqliteAsync());
        var target = await _stores.PostgresAsync();
        // Line 6: the port tenant's entity, after two tenants that would import cleanly.
        await TransferStores.InsertAsync(target, "urn:ngsi-ld:tenant:port", Entity("urn:s:1", "Sensor", 99));
        var before = await TransferStores.ContentsAsync(target);

        var error = await Assert.ThrowsAsync<ImportFileException>(() => EntityImporter.ImportAsync(target, file, ImportMode.Create, None));

        Assert.Equal(6, error.Line);
        Assert.Contains("already exists", error.Reason, StringComparison.Ordinal);
        Assert.Equal(["", "urn:ngsi-ld:tenant:port"], await target.ListTenantsAsync(None));
        AssertSameContents(before, await TransferStores.ContentsAsync(target));
    }

    [Fact]
    public async Task Import_in_upsert_mode_replaces_existing_entities_and_keeps_the_others()
    {
        var file = await ExportToFileAsync(await PopulatedSqliteAsync());
        var target = await _stores.PostgresAsync();
        await TransferStores.InsertAsync(target, "city", Entity("urn:keep", "Vehicle", 5), Entity("urn:b:1", "Building", 99));

        var summary = await EntityImporter.ImportAsync(target, file, ImportMode.Upsert, None);

        Assert.Equal((5L, 1L), (summary.Created, summary.Replaced));
        var city = (await TransferStores.ContentsAsync(target)).Where(e => e.Tenant == "city").Select(e => e.Entity).ToList();
        // The replaced entity keeps its place in creation order.
        Assert.Equal(["urn:keep", "urn:b:1", "urn:v:1"], city.Select(e => (string)e["id"]!));
        Assert.Equal(10, (int)city[1][Ns + "speed"]![0]!["value"]!);
    }

    [Fact]
    public async Task Twenty_thousand_entities_go_through_the_file_and_come_back_complete()
    {
        var source = await _stores.SqliteAsync();
        const int count = 20_000;
        await source.WriteAsync("big", true, async (session, ct) =>
        {
            for (var i = 0; i < count; i++)
            {
                await session.InsertAsync(Entity($"urn:e:{i}", "Vehicle", i), ct);
            }

            return true;
        }, None);
        var file = await ExportToFileAsync(source);

        var target = await _stores.SqliteAsync();
        var summary = await EntityImporter.ImportAsync(target, file, ImportMode.Create, None);

        Assert.Equal(count, summary.Created);
        var ids = new List<string>();
        await foreach (var entity in target.ExportEntitiesAsync("big", None))
        {
            ids.Add((string)entity["id"]!);
        }

        Assert.Equal(Enumerable.Range(0, count).Select(i => $"urn:e:{i}"), ids);
    }

    [Fact]
    public async Task Command_line_export_and_import_move_a_sqlite_store_and_report_a_damaged_file_with_exit_code_1()
    {
        var sourceDirectory = _stores.NewDataDirectory();
        await using (var source = new Storage.Sqlite.SqliteEntityStore(sourceDirectory))
        {
            await TransferStores.InsertAsync(source, "city", Entity("urn:b:1", "Building", 1));
        }

        var file = _stores.TempFile("cli.ndjson");
        var targetDirectory = _stores.NewDataDirectory();

        Assert.Equal(0, await CommandLine.Build().Parse(["export", "--out", file, "--data-dir", sourceDirectory]).InvokeAsync());
        Assert.Equal(0, await CommandLine.Build().Parse(["import", "--in", file, "--data-dir", targetDirectory]).InvokeAsync());
        // Again in create mode: the entity exists now.
        Assert.Equal(1, await CommandLine.Build().Parse(["import", "--in", file, "--data-dir", targetDirectory]).InvokeAsync());
        Assert.Equal(0, await CommandLine.Build().Parse(["import", "--in", file, "--mode", "upsert", "--data-dir", targetDirectory]).InvokeAsync());
        await File.AppendAllTextAsync(file, "{not json\n");
        Assert.Equal(1, await CommandLine.Build().Parse(["import", "--in", file, "--mode", "upsert", "--data-dir", targetDirectory]).InvokeAsync());

        var target = await _stores.SqliteAsync(targetDirectory);
        Assert.Equal(["urn:b:1"], (await TransferStores.ContentsAsync(target)).Select(e => (string)e.Entity["id"]!));
    }
}
