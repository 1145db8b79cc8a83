using System.Text.Json.Nodes;
using CityOS.Broker.Storage;
using CityOS.Server.Transfer;
using CityOS.Storage.Postgres;
using Npgsql;

namespace CityOS.Server.Tests.Transfer;

/// <summary>
/// <c>cityos import</c> is atomic per file: a failure while writing (pass 2), after earlier tenants of the file
/// were already written in the transaction, leaves the store exactly as it was, on both stores.
/// </summary>
public sealed class ImportAtomicityTests : IAsyncLifetime
{
    private const string Ns = "https://example.org/ns/";
    private const string Port = "urn:ngsi-ld:tenant:port";
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly TransferStores _stores = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _stores.CleanUpAsync();

    public static TheoryData<string> Stores => ["sqlite", "postgres"];

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task Entity_created_by_another_writer_after_the_check_fails_the_import_and_no_earlier_tenant_is_written(string kind)
    {
        var file = await ExportedFileAsync();
        var target = await StoreAsync(kind);
        await TransferStores.InsertAsync(target, "", Entity("urn:mine", "Vehicle"));
        var before = await TransferStores.ContentsAsync(target);

        // Between the check and the write another writer creates the port tenant's first entity (line 7), so the
        // write meets it only after the default and city tenants' entities went into the transaction.
        var conflict = Entity("urn:s:1", "Other");
        var racing = new InterceptingStore(target) { BeforeWrite = () => TransferStores.InsertAsync(target, Port, conflict) };

        var error = await Assert.ThrowsAsync<ImportFileException>(() => EntityImporter.ImportAsync(racing, file, ImportMode.Create, None));

        Assert.Equal(7, error.Line);
        // The port tenant came third, after two tenants' entities were in the transaction. (PostgreSQL may reach a
        // later tenant too before its flush finds the taken id; the retry then stops at line 7.)
        Assert.Equal(Port, racing.TenantsReached[2]);
        Assert.Equal(["", Port], (await target.ListTenantsAsync(None)).Order(StringComparer.Ordinal));
        var after = await TransferStores.ContentsAsync(target);
        Assert.Equal(
            before.Select(e => (e.Tenant, (string)e.Entity["id"]!)).Append((Port, "urn:s:1")),
            after.Select(e => (e.Tenant, (string)e.Entity["id"]!)));
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task Failure_in_a_later_tenant_while_writing_leaves_the_store_unchanged(string kind)
    {
        var file = await ExportedFileAsync();
        var target = await StoreAsync(kind);
        await TransferStores.InsertAsync(target, "city", Entity("urn:b:1", "Building"));
        var before = await TransferStores.ContentsAsync(target);
        var failing = new InterceptingStore(target)
        {
            OnTenant = tenant => tenant == Port ? throw new IOException("the disk is gone") : Task.CompletedTask,
        };

        var error = await Assert.ThrowsAsync<IOException>(() => EntityImporter.ImportAsync(failing, file, ImportMode.Upsert, None));

        Assert.Equal("the disk is gone", error.Message);
        Assert.Equal(["", "city", Port], failing.TenantsReached);
        Assert.Equal(["", "city"], (await target.ListTenantsAsync(None)).Order(StringComparer.Ordinal));
        var after = await TransferStores.ContentsAsync(target);
        Assert.Equal(before.Select(e => e.Entity.ToJsonString()), after.Select(e => e.Entity.ToJsonString()));

        // The same file then imports completely.
        var summary = await EntityImporter.ImportAsync(target, file, ImportMode.Upsert, None);
        Assert.Equal((5L, 1L), (summary.Created, summary.Replaced));
        Assert.Equal(["", "city", "empty", Port], (await target.ListTenantsAsync(None)).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Postgres_connection_lost_after_the_first_tenants_were_written_leaves_the_database_unchanged()
    {
        // A database of its own, so that cutting every connection to it touches no other test.
        var server = PostgresTestSchema.ServerConnectionString;
        var database = "import_" + Guid.NewGuid().ToString("N");
        await AdminAsync(server, $"CREATE DATABASE {database}");
        try
        {
            var connectionString = new NpgsqlConnectionStringBuilder(server) { Database = database }.ConnectionString;
            var file = await ExportedFileAsync();
            await using (var target = new PostgresEntityStore(connectionString))
            {
                await target.InitializeAsync(None);
                var cut = new InterceptingStore(target)
                {
                    OnTenant = async tenant =>
                    {
                        if (tenant == Port)
                        {
                            await AdminAsync(server, $"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{database}'");
                        }
                    },
                };

                var error = await Assert.ThrowsAnyAsync<NpgsqlException>(() => EntityImporter.ImportAsync(cut, file, ImportMode.Create, None));
                Assert.Equal(["", "city", Port], cut.TenantsReached);
            }

            // A new store (a new connection pool) sees the database as it was before the import: empty.
            await using var reopened = new PostgresEntityStore(connectionString);
            await reopened.InitializeAsync(None);
            Assert.Equal([""], await reopened.ListTenantsAsync(None));
            Assert.Empty(await TransferStores.ContentsAsync(reopened));

            var summary = await EntityImporter.ImportAsync(reopened, file, ImportMode.Create, None);
            Assert.Equal(6L, summary.Created);
        }
        finally
        {
            await AdminAsync(server, $"DROP DATABASE IF EXISTS {database} WITH (FORCE)");
        }
    }

    private static JsonObject Entity(string id, string type) => new()
    {
        ["id"] = id,
        ["type"] = new JsonArray(Ns + type),
        ["createdAt"] = "2026-11-23T10:00:00.000000Z",
        ["modifiedAt"] = "2026-11-23T10:00:00.000000Z",
        [Ns + "speed"] = new JsonArray(new JsonObject { ["type"] = "Property", ["value"] = id.Length }),
    };

    private Task<IEntityStore> StoreAsync(string kind) => kind == "sqlite" ? _stores.SqliteAsync() : _stores.PostgresAsync();

    /// <summary>
    /// An export of four tenants: line 1 the header, 2–3 the default tenant, 4–5 city, 6–7 the port (urn:s:2
    /// then urn:s:1), and "empty" with no entities.
    /// </summary>
    private async Task<string> ExportedFileAsync()
    {
        var source = await _stores.SqliteAsync();
        await TransferStores.InsertAsync(source, "", Entity("urn:v:1", "Vehicle"), Entity("urn:v:2", "Vehicle"));
        await TransferStores.InsertAsync(source, "city", Entity("urn:b:1", "Building"), Entity("urn:v:1", "Vehicle"));
        await TransferStores.InsertAsync(source, Port, Entity("urn:s:2", "Sensor"), Entity("urn:s:1", "Sensor"));
        await source.WriteAsync("empty", true, static (_, _) => ValueTask.FromResult(true), None);
        var path = _stores.TempFile("export.ndjson");
        await using (var stream = File.Create(path))
        {
            await EntityExporter.ExportAsync(source, stream, [], DateTimeOffset.UnixEpoch, None);
        }

        return path;
    }

    private static async Task AdminAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>
    /// A store that lets a test act between an import's check and its write (<see cref="BeforeWrite"/>), and when
    /// the write first reaches each tenant (<see cref="OnTenant"/>); everything else goes straight to the store.
    /// </summary>
    private sealed class InterceptingStore(IEntityStore inner) : IEntityStore
    {
        public Func<Task>? BeforeWrite { get; init; }

        public Func<string, Task>? OnTenant { get; init; }

        /// <summary>The tenants the write reached, in order, each once.</summary>
        public List<string> TenantsReached { get; } = [];

        public string Name => inner.Name;

        public Task InitializeAsync(CancellationToken cancellationToken) => inner.InitializeAsync(cancellationToken);

        public Task<bool> IsReadyAsync(CancellationToken cancellationToken) => inner.IsReadyAsync(cancellationToken);

        public Task<bool> TenantExistsAsync(string tenant, CancellationToken cancellationToken) => inner.TenantExistsAsync(tenant, cancellationToken);

        public Task<IReadOnlyList<string>> ListTenantsAsync(CancellationToken cancellationToken) => inner.ListTenantsAsync(cancellationToken);

        public Task<JsonObject?> GetEntityAsync(string tenant, string id, CancellationToken cancellationToken) => inner.GetEntityAsync(tenant, id, cancellationToken);

        public Task<EntityPage> QueryEntitiesAsync(string tenant, EntityQuery query, CancellationToken cancellationToken) => inner.QueryEntitiesAsync(tenant, query, cancellationToken);

        public IAsyncEnumerable<JsonObject> ExportEntitiesAsync(string tenant, CancellationToken cancellationToken) => inner.ExportEntitiesAsync(tenant, cancellationToken);

        public Task<T> WriteAsync<T>(string tenant, bool createTenant, Func<IEntityWriteSession, CancellationToken, ValueTask<T>> work, CancellationToken cancellationToken) =>
            inner.WriteAsync(tenant, createTenant, work, cancellationToken);

        public async Task<T> WriteTenantsAsync<T>(Func<ITenantWriteSessions, CancellationToken, ValueTask<T>> work, CancellationToken cancellationToken)
        {
            if (BeforeWrite is { } before)
            {
                await before();
            }

            return await inner.WriteTenantsAsync((sessions, token) => work(new Sessions(this, sessions), token), cancellationToken);
        }

        public Task<IReadOnlyList<AttributeUsage>> GetAttributeUsageAsync(string tenant, CancellationToken cancellationToken) => inner.GetAttributeUsageAsync(tenant, cancellationToken);

        private sealed class Sessions(InterceptingStore owner, ITenantWriteSessions inner) : ITenantWriteSessions
        {
            public async ValueTask<IEntityWriteSession> ForTenantAsync(string tenant, bool createTenant, CancellationToken cancellationToken)
            {
                if (!owner.TenantsReached.Contains(tenant))
                {
                    owner.TenantsReached.Add(tenant);
                    if (owner.OnTenant is { } onTenant)
                    {
                        await onTenant(tenant);
                    }
                }

                return await inner.ForTenantAsync(tenant, createTenant, cancellationToken);
            }
        }
    }
}
