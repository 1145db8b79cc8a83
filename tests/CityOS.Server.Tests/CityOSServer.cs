using System.Net.Http.Headers;
using CityOS.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Npgsql;

namespace CityOS.Server.Tests;

/// <summary>The storage backend a test server runs on.</summary>
public enum TestStore
{
    /// <summary>The embedded SQLite store in a temporary data directory.</summary>
    Sqlite,

    /// <summary>PostgreSQL/PostGIS in a fresh schema of the server scripts/test.sh starts.</summary>
    Postgres,
}

/// <summary>
/// The real CityOS app on Kestrel at a free loopback port with its own temporary data directory and, on
/// PostgreSQL, its own schema (dropped afterwards); tests talk to it over real HTTP.
/// </summary>
public class CityOSServer : IAsyncLifetime
{
    private WebApplication? _app;
    private PostgresTestSchema? _schema;

    /// <summary>A server on the embedded SQLite store.</summary>
    public CityOSServer()
        : this(TestStore.Sqlite)
    {
    }

    /// <summary>A server on <paramref name="store"/>.</summary>
    protected CityOSServer(TestStore store) => Store = store;

    public TestStore Store { get; }

    public string DataDirectory { get; } = Path.Combine(Path.GetTempPath(), "cityos-test-" + Guid.NewGuid().ToString("N"));

    public HttpClient Client { get; private set; } = null!;

    public Uri BaseAddress { get; private set; } = null!;

    public Dictionary<string, string?> Settings { get; } = new(StringComparer.OrdinalIgnoreCase);

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(DataDirectory);
        Settings["CityOS:Urls"] = "http://127.0.0.1:0";
        Settings["CityOS:DataDirectory"] = DataDirectory;
        Settings["Logging:LogLevel:Default"] = "Warning";
        if (Store == TestStore.Postgres)
        {
            _schema = await PostgresTestSchema.CreateAsync();
            Settings["CityOS:Store"] = "postgres";
            Settings["CityOS:ConnectionString"] = _schema.ConnectionString;
        }

        _app = ServerHost.Build(Settings);
        await _app.StartAsync();
        BaseAddress = new Uri(_app.Urls.First());
        Client = new HttpClient { BaseAddress = BaseAddress };
        Client.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
    }

    public async Task DisposeAsync()
    {
        Client?.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        if (_schema is not null)
        {
            await _schema.DropAsync();
        }

        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A file still held by the OS is left for the temp cleaner.
        }
    }
}

/// <summary>A server on the embedded SQLite store (its own type so that xUnit can share one per collection).</summary>
public sealed class SqliteServer() : CityOSServer(TestStore.Sqlite);

/// <summary>A server on PostgreSQL in a fresh schema; fails (never skips) without the test server.</summary>
public sealed class PostgresServer() : CityOSServer(TestStore.Postgres);

/// <summary>
/// A fresh schema in the test server's database, first in the search path of <see cref="ConnectionString"/>,
/// so that one server's tables never meet another's; dropped with everything in it at the end.
/// </summary>
public sealed class PostgresTestSchema
{
    /// <summary>The variable scripts/test.sh sets to the connection string of its throwaway server.</summary>
    public const string Variable = "CITYOS_TEST_POSTGRES";

    private readonly string _name = "s_" + Guid.NewGuid().ToString("N");

    private PostgresTestSchema()
    {
    }

    /// <summary>The server's connection string; throws (so the test fails, never skips) when it is not set.</summary>
    public static string ServerConnectionString =>
        Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                $"{Variable} is not set: the PostgreSQL runs of the server tests need the test server that scripts/test.sh starts. "
                + "Run bash scripts/test.sh, or start one with scripts/postgres.sh start DIR and export the variable it prints.");

    /// <summary>The connection string whose search path starts with this schema.</summary>
    public string ConnectionString => new NpgsqlConnectionStringBuilder(ServerConnectionString) { SearchPath = _name + ",public" }.ConnectionString;

    public static async Task<PostgresTestSchema> CreateAsync()
    {
        var schema = new PostgresTestSchema();
        await ExecuteAsync($"CREATE SCHEMA {schema._name}");
        return schema;
    }

    public Task DropAsync() => ExecuteAsync($"DROP SCHEMA IF EXISTS {_name} CASCADE");

    private static async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(ServerConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
