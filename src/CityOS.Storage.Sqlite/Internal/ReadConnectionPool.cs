using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;

namespace CityOS.Storage.Sqlite.Internal;

/// <summary>One pooled read-only connection with its cached commands. Used by one caller at a time.</summary>
internal sealed class ReadConnection : ICommandSource, IDisposable
{
    private readonly CommandCache _commands;

    public ReadConnection(SqliteConnection connection)
    {
        Connection = connection;
        _commands = new CommandCache(connection);
    }

    public SqliteConnection Connection { get; }

    public SqliteCommand Command(string sql) => _commands.Get(sql);

    public void Dispose()
    {
        _commands.Dispose();
        Connection.Dispose();
    }
}

/// <summary>
/// A small pool of read-only connections: WAL lets them read concurrently with the writer, each seeing
/// the last committed state. Connections are made on demand; at most <c>maxIdle</c> are kept.
/// </summary>
internal sealed class ReadConnectionPool : IDisposable
{
    private readonly string _path;
    private readonly int _maxIdle;
    private readonly ConcurrentBag<ReadConnection> _idle = [];
    private int _idleCount;
    private volatile bool _disposed;

    public ReadConnectionPool(string path, int maxIdle)
    {
        _path = path;
        _maxIdle = maxIdle;
    }

    /// <summary>A connection for the caller's exclusive use until the lease is disposed.</summary>
    public Lease Rent()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_idle.TryTake(out var connection))
        {
            Interlocked.Decrement(ref _idleCount);
            return new Lease(this, connection);
        }

        return new Lease(this, new ReadConnection(SqliteConnections.OpenReader(_path)));
    }

    private void Return(ReadConnection connection)
    {
        if (_disposed || Interlocked.Increment(ref _idleCount) > _maxIdle)
        {
            if (!_disposed)
            {
                Interlocked.Decrement(ref _idleCount);
            }

            connection.Dispose();
            return;
        }

        _idle.Add(connection);

        // A dispose racing with this return must not leave the connection open.
        if (_disposed && _idle.TryTake(out var late))
        {
            late.Dispose();
        }
    }

    public void Dispose()
    {
        _disposed = true;
        while (_idle.TryTake(out var connection))
        {
            connection.Dispose();
        }
    }

    /// <summary>Returns the connection to the pool when disposed.</summary>
    internal readonly struct Lease : IDisposable
    {
        private readonly ReadConnectionPool _pool;

        public Lease(ReadConnectionPool pool, ReadConnection connection)
        {
            _pool = pool;
            Connection = connection;
        }

        public ReadConnection Connection { get; }

        public void Dispose() => _pool.Return(Connection);
    }
}
