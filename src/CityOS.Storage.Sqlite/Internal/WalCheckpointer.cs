using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace CityOS.Storage.Sqlite.Internal;

/// <summary>
/// Copies committed WAL frames into the database file from its own connection, a few times a second.
/// PASSIVE checkpoints never block the writer or readers; doing them here keeps their fsyncs off the
/// writer's commit path (SQLite's auto-checkpoint would run them inside COMMIT).
/// </summary>
internal sealed class WalCheckpointer : IAsyncDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);

    private readonly SqliteConnection _connection;
    private readonly SqliteCommand _checkpoint;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public WalCheckpointer(string path, ILogger logger)
    {
        _connection = SqliteConnections.OpenCheckpointer(path);
        _checkpoint = _connection.CreateCommand();
        _checkpoint.CommandText = "PRAGMA wal_checkpoint(PASSIVE)";
        _logger = logger;
        _loop = Task.Run(RunAsync);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _checkpoint.Dispose();
        _connection.Dispose();
        _stop.Dispose();
    }

    private async Task RunAsync()
    {
        using var timer = new PeriodicTimer(Interval);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                Checkpoint();
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    private void Checkpoint()
    {
        try
        {
            _checkpoint.ExecuteNonQuery();
        }
        catch (SqliteException ex)
        {
            // A missed checkpoint only lets the WAL grow until the next one succeeds.
            Log.CheckpointFailed(_logger, ex);
        }
    }
}
