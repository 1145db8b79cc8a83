using System.Text.Json.Nodes;
using CityOS.Broker.Storage;
using CityOS.Storage.Postgres;
using CityOS.Storage.Sqlite;
using Npgsql;

namespace CityOS.Server.Tests.Transfer;

/// <summary>Real stores for the export/import tests: SQLite in temp directories, PostgreSQL in fresh schemas of the test server.</summary>
internal sealed class TransferStores
{
    /// <summary>The variable scripts/test.sh sets to the connection string of its throwaway PostgreSQL server.</summary>
    private const string PostgresVariable = "CITYOS_TEST_POSTGRES";

    private readonly List<IEntityStore> _stores = [];
    private readonly List<string> _directories = [];
    private readonly List<string> _schemas = [];

    public string TempFile(string name)
    {
        var directory = Path.Combine(Path.GetTempPath(), "cityos-transfer-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        _directories.Add(directory);
        return Path.Combine(directory, name);
    }

    public string NewDataDirectory()
    {
        var directory = Path.Combine(Path.GetTempPath(), "cityos-transfer-" + Guid.NewGuid().ToString("N"));
        _directories.Add(directory);
        return directory;
    }

    public async Task<IEntityStore> SqliteAsync(string? directory = null)
    {
        var store = new SqliteEntityStore(directory ?? NewDataDirectory());
        _stores.Add(store);
        await store.InitializeAsync(CancellationToken.None);
        return store;
    }

    public async Task<IEntityStore> PostgresAsync()
    {
        var server = Environment.GetEnvironmentVariable(PostgresVariable) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException($"{PostgresVariable} is not set: run scripts/test.sh (it starts the PostgreSQL test server).");
        var schema = "x_" + Guid.NewGuid().ToString("N");
        await ExecuteAsync(server, $"CREATE SCHEMA {schema}");
        _schemas.Add(schema);
        var store = new PostgresEntityStore(new NpgsqlConnectionStringBuilder(server) { SearchPath = schema + ",public" }.ConnectionString);
        _stores.Add(store);
        await store.InitializeAsync(CancellationToken.None);
        return store;
    }

    /// <summary>Everything a store holds, as (tenant, entity) in tenant then creation order.</summary>
    public static async Task<List<(string Tenant, JsonObject Entity)>> ContentsAsync(IEntityStore store)
    {
        var contents = new List<(string, JsonObject)>();
        foreach (var tenant in await store.ListTenantsAsync(CancellationToken.None))
        {
            await foreach (var entity in store.ExportEntitiesAsync(tenant, CancellationToken.None))
            {
                contents.Add((tenant, entity));
            }
        }

        return contents;
    }

    public static Task InsertAsync(IEntityStore store, string tenant, params JsonObject[] entities) =>
        store.WriteAsync(tenant, true, async (session, ct) =>
        {
            foreach (var entity in entities)
            {
                Assert.True(await session.InsertAsync(entity.DeepClone().AsObject(), ct));
            }

            return true;
        }, CancellationToken.None);

    /// <summary>Closes every store and removes its storage and the temp files.</summary>
    public async Task CleanUpAsync()
    {
        foreach (var store in _stores)
        {
            await ((IAsyncDisposable)store).DisposeAsync();
        }

        if (_schemas.Count > 0)
        {
            var server = Environment.GetEnvironmentVariable(PostgresVariable)!;
            foreach (var schema in _schemas)
            {
                await ExecuteAsync(server, $"DROP SCHEMA IF EXISTS {schema} CASCADE");
            }
        }

        foreach (var directory in _directories.Where(Directory.Exists))
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
