using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using CityOS.Broker.Storage;
using CityOS.NgsiLd.Errors;
using CityOS.Storage.Postgres.Internal;
using Npgsql;

namespace CityOS.Storage.Postgres;

/// <summary>
/// The shared store: PostgreSQL with PostGIS, usable by several broker nodes at once. Entities are rows of
/// one table holding the internal form as JSON, with a type table read in creation order, a GIN index on
/// attribute names and a GiST index of geo-property boxes. Tenants share the tables: every index a query
/// searches is led by the tenant column, so a tenant is one row in <c>tenants</c>, created by its first
/// write without any DDL. Each WriteAsync is one transaction on its own pooled connection; reads use pooled
/// connections beside it.
/// </summary>
public sealed class PostgresEntityStore : IEntityStore, IAsyncDisposable
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly string _displayName;
    private readonly ConcurrentDictionary<string, bool> _tenants = new(StringComparer.Ordinal);
    private readonly Lock _initLock = new();
    private Task? _initialization;
    private volatile bool _disposed;

    /// <summary>
    /// A store over the database of <paramref name="connectionString"/> (Npgsql syntax, e.g.
    /// <c>Host=db;Database=cityos;Username=cityos;Password=…</c>); nothing is opened before
    /// <see cref="InitializeAsync"/>. Tables go in the first schema of the search path.
    /// </summary>
    public PostgresEntityStore(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        NpgsqlConnectionStringBuilder builder;
        try
        {
            builder = new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (ArgumentException ex)
        {
            throw new ArgumentException($"Invalid PostgreSQL connection string: {ex.Message}", nameof(connectionString), ex);
        }

        // Never the password: this name goes into error messages and logs.
        _displayName = $"{builder.Host}:{builder.Port}/{builder.Database}" + (string.IsNullOrEmpty(builder.SearchPath) ? string.Empty : $" (search path {builder.SearchPath})");
        if (builder.MaxAutoPrepare == 0)
        {
            // Every statement text is fixed (values are parameters), so preparing the hot ones on each pooled
            // connection saves planning the insert/update CTEs and the query shapes on every call.
            builder.MaxAutoPrepare = 64;
            builder.AutoPrepareMinUsages = 2;
        }

        // Returning a connection to the pool would otherwise queue seven reset statements (CLOSE ALL, RESET
        // ALL, UNLISTEN *, DISCARD TEMP, …) for the next use: with one short transaction per request they
        // were most statements the server ran (pg_stat_statements, create scenario). The store leaves no
        // session state behind (no SET, no temporary tables; its advisory lock is transaction-scoped).
        builder.NoResetOnClose = true;

        _dataSource = NpgsqlDataSource.Create(builder);
    }

    /// <inheritdoc />
    public string Name => "postgres";

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
            await EnsureInitializedAsync(cancellationToken).ConfigureAwait(false);
            await using var command = _dataSource.CreateCommand("SELECT 1");
            return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is 1;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return false;
        }
    }

    /// <inheritdoc />
    public async Task<bool> TenantExistsAsync(string tenant, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        await EnsureInitializedAsync(cancellationToken).ConfigureAwait(false);
        if (!TenantName.IsValid(tenant))
        {
            return false;
        }

        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await TenantExistsAsync(connection, null, tenant, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<string>> ListTenantsAsync(CancellationToken cancellationToken)
    {
        await EnsureInitializedAsync(cancellationToken).ConfigureAwait(false);
        var tenants = new List<string>();
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("SELECT name FROM tenants ORDER BY name", connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            tenants.Add(reader.GetString(0));
        }

        return tenants;
    }

    /// <inheritdoc />
    public async Task<JsonObject?> GetEntityAsync(string tenant, string id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        ArgumentNullException.ThrowIfNull(id);
        await EnsureInitializedAsync(cancellationToken).ConfigureAwait(false);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("SELECT doc FROM entities WHERE tenant = $1 AND id = $2", connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = id });
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is string doc ? EntityRow.ParseDoc(doc) : null;
    }

    /// <inheritdoc />
    public async Task<EntityPage> QueryEntitiesAsync(string tenant, EntityQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        ArgumentNullException.ThrowIfNull(query);
        await EnsureInitializedAsync(cancellationToken).ConfigureAwait(false);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        // A page may take several statements (count and page, or chunks of candidates), which must see one
        // snapshot. Npgsql sends BEGIN with the first statement, so this costs only the COMMIT round trip.
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken).ConfigureAwait(false);
        var page = await QuerySql.PageAsync(connection, transaction, tenant, query, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return page;
    }

    /// <summary>Rows read per chunk by <see cref="ExportEntitiesAsync"/>.</summary>
    internal const int ExportChunkSize = 500;

    /// <inheritdoc />
    public async IAsyncEnumerable<JsonObject> ExportEntitiesAsync(string tenant, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        await EnsureInitializedAsync(cancellationToken).ConfigureAwait(false);
        // Keyset chunks on seq through entities_by_tenant (tenant, seq): no cursor or transaction stays open
        // between chunks, so a slow consumer (a file on a slow disk) holds no connection and no snapshot.
        var after = long.MinValue;
        while (true)
        {
            var chunk = new List<(long Seq, string Doc)>(ExportChunkSize);
            await using (var connection = await OpenAsync(cancellationToken).ConfigureAwait(false))
            {
                await using var command = new NpgsqlCommand("SELECT seq, doc FROM entities WHERE tenant = $1 AND seq > $2 ORDER BY seq LIMIT $3", connection);
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant });
                command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = after });
                command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = ExportChunkSize });
                await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    chunk.Add((reader.GetInt64(0), reader.GetString(1)));
                }
            }

            foreach (var (_, doc) in chunk)
            {
                yield return EntityRow.ParseDoc(doc);
            }

            if (chunk.Count < ExportChunkSize)
            {
                yield break;
            }

            after = chunk[^1].Seq;
        }
    }

    /// <summary>The PostgreSQL plan (EXPLAIN) of the candidate query, for tests and diagnostics.</summary>
    internal async Task<string> ExplainQueryAsync(string tenant, EntityQuery query, CancellationToken cancellationToken)
    {
        await EnsureInitializedAsync(cancellationToken).ConfigureAwait(false);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await QuerySql.ExplainAsync(connection, tenant, query, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs <paramref name="work"/> in one transaction (READ COMMITTED) on its own connection; commits when it
    /// returns, rolls back when it throws. Concurrent calls run in parallel; rows read through the session
    /// are locked until the commit, so read-modify-writes on one entity serialise, across nodes too.
    /// Durable once the task completes (the server's synchronous_commit decides how durable).
    /// </summary>
    public async Task<T> WriteAsync<T>(
        string tenant,
        bool createTenant,
        Func<IEntityWriteSession, CancellationToken, ValueTask<T>> work,
        CancellationToken cancellationToken)
    {
        TenantName.Validate(tenant);
        ArgumentNullException.ThrowIfNull(work);
        cancellationToken.ThrowIfCancellationRequested();
        await EnsureInitializedAsync(cancellationToken).ConfigureAwait(false);

        return await WithRetriesAsync(deferWrites => WriteOnceAsync(tenant, createTenant, deferWrites, work, cancellationToken), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<T> WriteTenantsAsync<T>(Func<ITenantWriteSessions, CancellationToken, ValueTask<T>> work, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(work);
        cancellationToken.ThrowIfCancellationRequested();
        await EnsureInitializedAsync(cancellationToken).ConfigureAwait(false);
        return await WithRetriesAsync(deferWrites => WriteTenantsOnceAsync(deferWrites, work, cancellationToken), cancellationToken).ConfigureAwait(false);
    }

    private static async Task<T> WithRetriesAsync<T>(Func<bool, Task<T>> attempt, CancellationToken cancellationToken)
    {
        // Two transactions that lock the same entities in opposite orders (two batches, two nodes) are
        // answered by PostgreSQL with a deadlock or serialization error for one of them. Nothing of that
        // attempt was committed and the contract lets work run again, so the loser is retried. The same holds
        // when a deferred write met a row another transaction changed; that retry writes undeferred, so it
        // sees each outcome as it happens and cannot meet the same conflict again.
        var deferWrites = true;
        for (var number = 1; ; number++)
        {
            try
            {
                return await attempt(deferWrites).ConfigureAwait(false);
            }
            catch (PostgresException e) when (IsTransient(e) && number < MaxWriteAttempts)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(1, 10 * number)), cancellationToken).ConfigureAwait(false);
            }
            catch (DeferredWriteConflictException) when (number < MaxWriteAttempts)
            {
                deferWrites = false;
            }
        }
    }

    private const int MaxWriteAttempts = 5;

    private static bool IsTransient(PostgresException e) =>
        e.SqlState is PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure;

    private async Task<T> WriteOnceAsync<T>(
        string tenant,
        bool createTenant,
        bool deferWrites,
        Func<IEntityWriteSession, CancellationToken, ValueTask<T>> work,
        CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var created = false;
        if (createTenant)
        {
            created = await CreateTenantAsync(connection, transaction, tenant, cancellationToken).ConfigureAwait(false);
        }
        else if (!await TenantExistsAsync(connection, transaction, tenant, cancellationToken).ConfigureAwait(false))
        {
            throw new NgsiLdException(ErrorType.NonexistentTenant, $"The tenant '{tenant}' does not exist.");
        }

        var session = new PostgresWriteSession(connection, transaction, tenant, deferWrites);
        T result;
        try
        {
            result = await work(session, cancellationToken).ConfigureAwait(false);
            await session.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            session.Close();
        }

        // Not cancellable: once the work is done, the caller must learn whether it was committed.
        await transaction.CommitAsync(CancellationToken.None).ConfigureAwait(false);
        if (created)
        {
            _tenants[tenant] = true;
        }

        return result;
    }

    private async Task<T> WriteTenantsOnceAsync<T>(bool deferWrites, Func<ITenantWriteSessions, CancellationToken, ValueTask<T>> work, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var sessions = new TenantSessions(this, connection, transaction, deferWrites);
        T result;
        try
        {
            result = await work(sessions, cancellationToken).ConfigureAwait(false);
            await sessions.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            sessions.Close();
        }

        // Not cancellable: once the work is done, the caller must learn whether it was committed.
        await transaction.CommitAsync(CancellationToken.None).ConfigureAwait(false);
        foreach (var tenant in sessions.Created)
        {
            _tenants[tenant] = true;
        }

        return result;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<AttributeUsage>> GetAttributeUsageAsync(string tenant, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        await EnsureInitializedAsync(cancellationToken).ConfigureAwait(false);
        var usage = new List<AttributeUsage>();
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        // One pass over the index columns (never the docs); DISTINCT guards against a type listed twice.
        await using var command = new NpgsqlCommand(
            """
            SELECT t.type, a.pair ->> 0, a.pair ->> 1, count(DISTINCT e.seq)
            FROM entities e
            CROSS JOIN LATERAL unnest(e.types) AS t(type)
            LEFT JOIN LATERAL jsonb_array_elements(e.attrs) AS a(pair) ON true
            WHERE e.tenant = $1
            GROUP BY 1, 2, 3
            ORDER BY 1, 2, 3
            """,
            connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var attribute = await reader.IsDBNullAsync(1, cancellationToken).ConfigureAwait(false) ? null : reader.GetString(1);
            var attributeType = await reader.IsDBNullAsync(2, cancellationToken).ConfigureAwait(false) ? null : reader.GetString(2);
            usage.Add(new AttributeUsage(reader.GetString(0), attribute, string.IsNullOrEmpty(attributeType) ? null : attributeType, reader.GetInt64(3)));
        }

        return usage;
    }

    /// <summary>Closes every pooled connection.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        await _dataSource.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Opens a pooled connection of the initialized store (used by the hosted @context store).</summary>
    internal async Task<NpgsqlConnection> OpenInitializedAsync(CancellationToken cancellationToken)
    {
        await EnsureInitializedAsync(cancellationToken).ConfigureAwait(false);
        return await OpenAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        try
        {
            return await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsConnectionFailure(ex))
        {
            throw Unreachable(ex);
        }
    }

    private Task EnsureInitializedAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var initialization = Volatile.Read(ref _initialization);
        if (initialization is null || initialization.IsFaulted)
        {
            lock (_initLock)
            {
                // Shared by every caller; a failed start (database down) is retried by the next call.
                if (_initialization is null || _initialization.IsFaulted)
                {
                    _initialization = Task.Run(() => OpenAsync(), CancellationToken.None);
                }

                initialization = _initialization;
            }
        }

        return initialization.IsCompletedSuccessfully ? Task.CompletedTask : initialization.WaitAsync(cancellationToken);
    }

    private async Task OpenAsync()
    {
        try
        {
            await using var connection = await _dataSource.OpenConnectionAsync(CancellationToken.None).ConfigureAwait(false);
            await PostgresSchema.MigrateAsync(connection, CancellationToken.None).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.UndefinedFile or PostgresErrorCodes.FeatureNotSupported
                                           || (ex.SqlState == PostgresErrorCodes.InsufficientPrivilege && ex.MessageText.Contains("extension", StringComparison.OrdinalIgnoreCase)))
        {
            throw new InvalidOperationException(
                $"The PostgreSQL database {_displayName} lacks PostGIS: {ex.MessageText}. Install PostGIS 3 on the server "
                + "(Debian: postgresql-15-postgis-3) and run CREATE EXTENSION postgis, btree_gin, btree_gist as a superuser.",
                ex);
        }
        catch (Exception ex) when (IsConnectionFailure(ex))
        {
            throw Unreachable(ex);
        }
    }

    private static bool IsConnectionFailure(Exception ex) =>
        ex is NpgsqlException or SocketException or TimeoutException or System.IO.IOException;

    private InvalidOperationException Unreachable(Exception ex) =>
        new($"Cannot use the PostgreSQL store at {_displayName}: {(ex is PostgresException pg ? pg.MessageText : ex.Message)}", ex);

    private async Task<bool> TenantExistsAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string tenant, CancellationToken cancellationToken)
    {
        if (tenant.Length == 0 || _tenants.ContainsKey(tenant))
        {
            return true;
        }

        await using var command = new NpgsqlCommand("SELECT 1 FROM tenants WHERE name = $1", connection, transaction);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant });
        if (await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is null)
        {
            return false;
        }

        // Tenants are never deleted, so a committed one is cached for good.
        _tenants[tenant] = true;
        return true;
    }

    /// <summary>Creates the tenant in the transaction (rolled back with it); true when it was not known committed.</summary>
    private async Task<bool> CreateTenantAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string tenant, CancellationToken cancellationToken)
    {
        if (tenant.Length == 0 || _tenants.ContainsKey(tenant))
        {
            return false;
        }

        // Another transaction creating the same tenant makes this one wait, then do nothing.
        await using var command = new NpgsqlCommand("INSERT INTO tenants (name) VALUES ($1) ON CONFLICT DO NOTHING", connection, transaction);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>One write session per tenant, all on one connection and transaction.</summary>
    private sealed class TenantSessions(PostgresEntityStore store, NpgsqlConnection connection, NpgsqlTransaction transaction, bool deferWrites) : ITenantWriteSessions
    {
        private readonly Dictionary<string, PostgresWriteSession> _sessions = new(StringComparer.Ordinal);
        private bool _closed;

        /// <summary>Tenants this transaction created; known committed only after the commit.</summary>
        public List<string> Created { get; } = [];

        public async ValueTask<IEntityWriteSession> ForTenantAsync(string tenant, bool createTenant, CancellationToken cancellationToken)
        {
            TenantName.Validate(tenant);
            ObjectDisposedException.ThrowIf(_closed, this);
            if (_sessions.TryGetValue(tenant, out var session))
            {
                return session;
            }

            if (createTenant)
            {
                if (await store.CreateTenantAsync(connection, transaction, tenant, cancellationToken).ConfigureAwait(false))
                {
                    Created.Add(tenant);
                }
            }
            else if (!await store.TenantExistsAsync(connection, transaction, tenant, cancellationToken).ConfigureAwait(false))
            {
                throw new NgsiLdException(ErrorType.NonexistentTenant, $"The tenant '{tenant}' does not exist.");
            }

            // Writes another tenant's session deferred go first, so that a failure surfaces while that
            // tenant is still the one being written rather than at the very end.
            await FlushAsync(cancellationToken).ConfigureAwait(false);
            session = new PostgresWriteSession(connection, transaction, tenant, deferWrites);
            _sessions[tenant] = session;
            return session;
        }

        public async ValueTask FlushAsync(CancellationToken cancellationToken)
        {
            foreach (var session in _sessions.Values)
            {
                await session.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
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
