using Microsoft.Data.Sqlite;

namespace CityOS.Storage.Sqlite.Internal;

/// <summary>A connection that hands out one cached command per SQL text, so statements are prepared once.</summary>
internal interface ICommandSource
{
    /// <summary>The cached command for <paramref name="sql"/>, its parameters cleared.</summary>
    SqliteCommand Command(string sql);
}

/// <summary>A per-connection cache of commands keyed by SQL text.</summary>
internal sealed class CommandCache : IDisposable
{
    private readonly SqliteConnection _connection;
    private readonly Dictionary<string, SqliteCommand> _commands = new(StringComparer.Ordinal);

    public CommandCache(SqliteConnection connection) => _connection = connection;

    public SqliteCommand Get(string sql)
    {
        if (!_commands.TryGetValue(sql, out var command))
        {
            command = _connection.CreateCommand();
            command.CommandText = sql;
            _commands[sql] = command;
        }

        command.Parameters.Clear();
        return command;
    }

    public void Dispose()
    {
        foreach (var command in _commands.Values)
        {
            command.Dispose();
        }

        _commands.Clear();
    }
}
