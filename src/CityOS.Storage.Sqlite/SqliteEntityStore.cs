using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using CityOS.Broker.Storage;
using CityOS.Storage.Sqlite.Internal;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CityOS.Storage.Sqlite;

/// <summary>
/// The embedded store: one SQLite database file (<c>{dataDirectory}/cityos.db</c>) in WAL mode. Writes go
/// through a single writer with group commit (see <see cref="WriteAsync"/>); reads use a small pool of
/// read-only connections that run beside it. Entities are kept as JSON text in the internal form, with
/// secondary tables for types, attributes and an R-tree of geo-property bounding boxes, all maintained in
/// the same transaction as the entity.
/// </summary>
public sealed class SqliteEntityStore : IEntityStore, IAsyncDisposable
{
    /// <summary>The database file name inside the data directory.</summary>
    public const string FileName = "cityos.db";

    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, long> _tenants = new(StringComparer.Ordinal);
    private readonly Lock _initLock = new();
    private Task? _initialization;
    private WriterConnection? _writerConnection;
    private SqliteWriter? _writer;
    private WalCheckpointer? _checkpointer;
    private ReadConnectionPool? _readers;
    private volatile bool _disposed;

    /// <summary>A store over <c>{dataDirectory}/cityos.db</c>; nothing is opened before <see cref="InitializeAsync"/>.</summary>
    public SqliteEntityStore(string dataDirectory, ILogger<SqliteEntityStore>? logger = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(dataDirectory);
        DataDirectory = Path.GetFullPath(dataDirectory);
        DatabasePath = Path.Combine(DataDirectory, FileName);
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <inheritdoc />
    public string Name => "sqlite";

    /// <summary>The directory holding the database files.</summary>
    public string DataDirectory { get; }

    /// <summary>The full path of the database file.</summary>
    public string DatabasePath { get; }

    /// <summary>Group commits so far (for tests and diagnostics).</summary>
    internal long Commits => _writer?.Commits ?? 0;

    /// <inheritdoc />
    public Task InitializeAsync(CancellationToken cancellationToken) => EnsureInitializedAsync(cancellationToken);

    /// <inheritdoc />
    public async Task<bool> IsReadyAsync(CancellationToken cancellationToken)
    {
        if (_disposed)
        {
            return false;
        }

        try
        {
            return await ReadRawAsync(static c => c.Command("SELECT 1").ExecuteScalar() is long, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return false;
        }
    }

    /// <inheritdoc />
    public Task<bool> TenantExistsAsync(string tenant, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        return ReadRawAsync(c => FindTenant(c, tenant) is not null, cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<string>> ListTenantsAsync(CancellationToken cancellationToken) =>
        ReadRawAsync<IReadOnlyList<string>>(
            static c =>
            {
                var tenants = new List<string>();
                using var reader = c.Command("SELECT name FROM tenants ORDER BY name").ExecuteReader();
                while (reader.Read())
                {
                    tenants.Add(reader.GetString(0));
                }

                return tenants;
            },
            cancellationToken);

    /// <inheritdoc />
    public Task<JsonObject?> GetEntityAsync(string tenant, string id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        ArgumentNullException.ThrowIfNull(id);
        return ReadRawAsync(
            c =>
            {
                if (FindTenant(c, tenant) is not { } tid)
                {
                    return null;
                }

                // As a blob, the doc arrives as its UTF-8 bytes, which is what the JSON parser reads.
                var command = c.Command("SELECT CAST(doc AS BLOB) FROM entities WHERE tenant = $t AND id = $id");
                command.Parameters.AddWithValue("$t", tid);
                command.Parameters.AddWithValue("$id", id);
                return command.ExecuteScalar() is byte[] doc ? EntityQueryExecutor.ParseDoc(doc) : null;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<EntityPage> QueryEntitiesAsync(string tenant, EntityQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        return QueryEntitiesAsync(tenant, query, query.Matches, cancellationToken);
    }

    /// <summary>
    /// <see cref="QueryEntitiesAsync(string, EntityQuery, CancellationToken)"/> with the in-memory filter
    /// replaced, so that tests can drive the R-tree path before the geo evaluator exists.
    /// </summary>
    internal Task<EntityPage> QueryEntitiesAsync(string tenant, EntityQuery query, Func<JsonObject, bool> matcher, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        ArgumentNullException.ThrowIfNull(query);
        return ReadRawAsync(
            c => FindTenant(c, tenant) is { } tid
                ? EntityQueryExecutor.Page(c, tid, query, matcher, cancellationToken)
                : new EntityPage([], query.Count ? 0 : null),
            cancellationToken);
    }

    /// <summary>Rows read per chunk by <see cref="ExportEntitiesAsync"/>: one short read each, so the writer is never held back for long.</summary>
    internal const int ExportChunkSize = 500;

    /// <inheritdoc />
    public async IAsyncEnumerable<JsonObject> ExportEntitiesAsync(string tenant, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        // Keyset paging on seq (the creation order): every chunk is one short read on a pooled connection,
        // instead of one reader held open (and a WAL snapshot pinned) for the whole export.
        var after = long.MinValue;
        while (true)
        {
            // The reads themselves are synchronous and not cancellable; stop between chunks.
            cancellationToken.ThrowIfCancellationRequested();
            var last = after;
            var chunk = await ReadRawAsync(
                c =>
                {
                    var docs = new List<(long Seq, byte[] Doc)>(ExportChunkSize);
                    if (FindTenant(c, tenant) is not { } tid)
                    {
                        return docs;
                    }

                    var command = c.Command("SELECT seq, CAST(doc AS BLOB) FROM entities WHERE tenant = $t AND seq > $after ORDER BY seq LIMIT $n");
                    command.Parameters.AddWithValue("$t", tid);
                    command.Parameters.AddWithValue("$after", last);
                    command.Parameters.AddWithValue("$n", ExportChunkSize);
                    using var reader = command.ExecuteReader();
                    while (reader.Read())
                    {
                        docs.Add((reader.GetInt64(0), reader.GetFieldValue<byte[]>(1)));
                    }

                    return docs;
                },
                cancellationToken).ConfigureAwait(false);
            foreach (var (_, doc) in chunk)
            {
                yield return EntityQueryExecutor.ParseDoc(doc);
            }

            if (chunk.Count < ExportChunkSize)
            {
                yield break;
            }

            after = chunk[^1].Seq;
        }
    }

    /// <summary>The SQLite plan of a query (EXPLAIN QUERY PLAN details), for tests and diagnostics.</summary>
    internal Task<List<string>> ExplainQueryAsync(string tenant, EntityQuery query, CancellationToken cancellationToken) =>
        ReadRawAsync(c => EntityQueryExecutor.Explain(c, FindTenant(c, tenant) ?? -1, query), cancellationToken);

    /// <summary>
    /// Queues <paramref name="work"/> for the single writer. It runs in its own savepoint inside a group
    /// transaction shared with other callers' work; a throwing work item rolls back only its own writes.
    /// The task completes after the group's COMMIT (durable against a process kill). The work must not call
    /// <see cref="WriteAsync"/> itself (the writer would wait for itself), and every write it makes must go
    /// through the session it is given.
    /// </summary>
    public async Task<T> WriteAsync<T>(
        string tenant,
        bool createTenant,
        Func<IEntityWriteSession, CancellationToken, ValueTask<T>> work,
        CancellationToken cancellationToken)
    {
        TenantName.Validate(tenant);
        ArgumentNullException.ThrowIfNull(work);
        await EnsureInitializedAsync(cancellationToken).ConfigureAwait(false);
        return await Writer.EnqueueAsync(
            async (connection, token) =>
            {
                var tid = connection.ResolveTenant(tenant, createTenant);
                var session = new EntityWriteSession(connection, tid);
                try
                {
                    return await work(session, token).ConfigureAwait(false);
                }
                finally
                {
                    session.Close();
                }
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Queues <paramref name="work"/> for the single writer as one work item (one savepoint of a group
    /// transaction, as <see cref="WriteAsync"/>): the tenants it touches are all in the one database file, so
    /// its writes to every tenant, and the tenants it creates, commit or roll back together.
    /// </summary>
    public async Task<T> WriteTenantsAsync<T>(Func<ITenantWriteSessions, CancellationToken, ValueTask<T>> work, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(work);
        await EnsureInitializedAsync(cancellationToken).ConfigureAwait(false);
        return await Writer.EnqueueAsync(
            async (connection, token) =>
            {
                var sessions = new TenantSessions(connection);
                try
                {
                    return await work(sessions, token).ConfigureAwait(false);
                }
                finally
                {
                    sessions.Close();
                }
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<AttributeUsage>> GetAttributeUsageAsync(string tenant, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        return ReadRawAsync<IReadOnlyList<AttributeUsage>>(
            c =>
            {
                var usage = new List<AttributeUsage>();
                if (FindTenant(c, tenant) is not { } tid)
                {
                    return usage;
                }

                // One pass over the tenant's index columns (never the docs); DISTINCT guards against an
                // entity listing a type twice.
                var command = c.Command("""
                    SELECT t.value, a.value ->> 0, a.value ->> 1, COUNT(DISTINCT e.seq)
                    FROM entities e INDEXED BY entities_by_tenant
                    JOIN json_each(e.types) t
                    LEFT JOIN json_each(e.attrs) a
                    WHERE e.tenant = $t
                    GROUP BY 1, 2, 3
                    ORDER BY 1, 2, 3
                    """);
                command.Parameters.AddWithValue("$t", tid);
                using var reader = command.ExecuteReader();
                while (reader.Read())
                {
                    var attribute = reader.IsDBNull(1) ? null : reader.GetString(1);
                    var attributeType = reader.IsDBNull(2) ? null : reader.GetString(2);
                    usage.Add(new AttributeUsage(
                        reader.GetString(0),
                        attribute,
                        string.IsNullOrEmpty(attributeType) ? null : attributeType,
                        reader.GetInt64(3)));
                }

                return usage;
            },
            cancellationToken);
    }

    /// <summary>Stops the writer after the queued work is committed, then closes every connection.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Task? initialization;
        lock (_initLock)
        {
            initialization = _initialization;
        }

        if (initialization is not null)
        {
            try
            {
                await initialization.ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // A store that never opened has nothing to close beyond what the failed start cleaned up.
            }
        }

        if (_writer is not null)
        {
            await _writer.DisposeAsync().ConfigureAwait(false);
        }

        if (_checkpointer is not null)
        {
            await _checkpointer.DisposeAsync().ConfigureAwait(false);
        }

        _readers?.Dispose();

        // Closed last: the last connection to close checkpoints the WAL into the file and removes it.
        _writerConnection?.Dispose();
    }

    /// <summary>Runs a write on the writer connection (used by the hosted @context store of the same database).</summary>
    internal async Task<T> WriteRawAsync<T>(Func<WriterConnection, T> work, CancellationToken cancellationToken)
    {
        await EnsureInitializedAsync(cancellationToken).ConfigureAwait(false);
        return await Writer.EnqueueAsync((connection, _) => ValueTask.FromResult(work(connection)), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs a read on a pooled read-only connection.</summary>
    internal async Task<T> ReadRawAsync<T>(Func<ReadConnection, T> read, CancellationToken cancellationToken)
    {
        await EnsureInitializedAsync(cancellationToken).ConfigureAwait(false);
        using var lease = Readers.Rent();
        return read(lease.Connection);
    }

    private SqliteWriter Writer => _writer ?? throw new InvalidOperationException("The store is not initialized.");

    private ReadConnectionPool Readers => _readers ?? throw new InvalidOperationException("The store is not initialized.");

    private Task EnsureInitializedAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var initialization = Volatile.Read(ref _initialization);
        if (initialization is null)
        {
            lock (_initLock)
            {
                // Opening is synchronous file work; run it off the caller's thread once, shared by all callers.
                initialization = _initialization ??= Task.Run(Open, CancellationToken.None);
            }
        }

        return initialization.IsCompletedSuccessfully ? Task.CompletedTask : initialization.WaitAsync(cancellationToken);
    }

    private void Open()
    {
        SqliteConnection? connection = null;
        WriterConnection? writerConnection = null;
        ReadConnectionPool? readers = null;
        try
        {
            Directory.CreateDirectory(DataDirectory);
            connection = SqliteConnections.OpenWriter(DatabasePath);
            SqliteSchema.Migrate(connection, DatabasePath);
            LoadTenants(connection);
            writerConnection = new WriterConnection(connection, _tenants);
            // Reads run synchronously on request threads, so under load there can be more of them than cores;
            // keeping up to 16 idle avoids reopening (and re-preparing) connections in bursts.
            readers = new ReadConnectionPool(DatabasePath, maxIdle: 16);
            _checkpointer = new WalCheckpointer(DatabasePath, _logger);
        }
        catch (Exception ex)
        {
            readers?.Dispose();
            if (writerConnection is not null)
            {
                writerConnection.Dispose();
            }
            else
            {
                connection?.Dispose();
            }

            if (ex is SqliteException or IOException or UnauthorizedAccessException)
            {
                throw new InvalidOperationException($"Cannot open the SQLite store at '{DatabasePath}': {ex.Message}", ex);
            }

            throw;
        }

        _readers = readers;
        _writerConnection = writerConnection;
        _writer = new SqliteWriter(writerConnection, _logger);
        Log.Opened(_logger, DatabasePath, SqliteSchema.CurrentVersion);
    }

    private void LoadTenants(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT name, tid FROM tenants";
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            _tenants[reader.GetString(0)] = reader.GetInt64(1);
        }
    }

    /// <summary>The tenant's row id when it exists (committed), for the other stores of this database.</summary>
    internal long? TenantId(ReadConnection connection, string tenant) => FindTenant(connection, tenant);

    /// <summary>The tenant's id when it exists (committed). Tenants are never deleted, so hits are cached for good.</summary>
    private long? FindTenant(ReadConnection connection, string tenant)
    {
        if (_tenants.TryGetValue(tenant, out var tid))
        {
            return tid;
        }

        if (!TenantName.IsValid(tenant))
        {
            return null;
        }

        var command = connection.Command("SELECT tid FROM tenants WHERE name = $name");
        command.Parameters.AddWithValue("$name", tenant);
        if (command.ExecuteScalar() is long found)
        {
            _tenants[tenant] = found;
            return found;
        }

        return null;
    }

    /// <summary>One session per tenant on the writer's connection, all in one work item.</summary>
    private sealed class TenantSessions(WriterConnection connection) : ITenantWriteSessions
    {
        private readonly Dictionary<string, EntityWriteSession> _sessions = new(StringComparer.Ordinal);
        private bool _closed;

        public ValueTask<IEntityWriteSession> ForTenantAsync(string tenant, bool createTenant, CancellationToken cancellationToken)
        {
            TenantName.Validate(tenant);
            ObjectDisposedException.ThrowIf(_closed, this);
            cancellationToken.ThrowIfCancellationRequested();
            if (!_sessions.TryGetValue(tenant, out var session))
            {
                session = new EntityWriteSession(connection, connection.ResolveTenant(tenant, createTenant));
                _sessions[tenant] = session;
            }

            return ValueTask.FromResult<IEntityWriteSession>(session);
        }

        public void Close()
        {
            _closed = true;
            foreach (var session in _sessions.Values)
            {
                session.Close();
            }
        }
    }
}
