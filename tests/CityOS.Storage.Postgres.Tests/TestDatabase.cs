using Npgsql;

namespace CityOS.Storage.Postgres.Tests;

/// <summary>
/// A fresh schema in the test server's database for one test: the store's tables go in it (first in the
/// search path) and it is dropped afterwards, so tests stay independent at the cost of a CREATE SCHEMA.
/// </summary>
internal sealed class TestDatabase
{
    /// <summary>The variable scripts/test.sh sets to the connection string of its throwaway server.</summary>
    public const string Variable = "CITYOS_TEST_POSTGRES";

    private readonly string _schema = "t_" + Guid.NewGuid().ToString("N");
    private bool _created;

    /// <summary>The server's connection string; fails (never skips) when the test server is not running.</summary>
    public static string ServerConnectionString =>
        Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                $"{Variable} is not set: the PostgreSQL tests need the test server that scripts/test.sh starts "
                + "(scripts/postgres.sh). Run scripts/test.sh, or start one with scripts/postgres.sh start DIR and export the variable it prints.");

    /// <summary>The connection string of the test's schema.</summary>
    public string ConnectionString => new NpgsqlConnectionStringBuilder(ServerConnectionString) { SearchPath = _schema + ",public" }.ConnectionString;

    public async Task CreateAsync()
    {
        if (_created)
        {
            return;
        }

        await ExecuteAsync($"CREATE SCHEMA {_schema}");
        _created = true;
    }

    public async Task DropAsync()
    {
        if (_created)
        {
            await ExecuteAsync($"DROP SCHEMA IF EXISTS {_schema} CASCADE");
            _created = false;
        }
    }

    /// <summary>Runs SQL in the test's schema.</summary>
    public async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
