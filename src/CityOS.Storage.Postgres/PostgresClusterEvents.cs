using System.Text;
using System.Text.Json;
using CityOS.Broker.Cluster;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace CityOS.Storage.Postgres;

/// <summary>
/// <see cref="IClusterEvents"/> over PostgreSQL LISTEN/NOTIFY, for the nodes that share one database (and schema).
/// Events are published with <c>pg_notify</c> on pooled connections and received on one dedicated connection
/// that is reopened (and LISTENs again) whenever it fails; every reopening posts a resync, since events sent
/// while it was down are lost.
/// </summary>
/// <remarks>
/// NOTIFY channels are per database, so the channel name is derived from the schema the tables live in
/// (the first of the search path): stores in different schemas of one database never hear each other.
/// One PostgreSQL channel carries all logical channels; the envelope is <c>{"o":node,"c":channel,"p":payload}</c>.
/// </remarks>
public sealed partial class PostgresClusterEvents : IClusterEvents, IAsyncDisposable
{
    // Server-side, so that publishers and the listener agree on it from the same search path; the hash keeps it
    // under the 63-byte identifier limit for any schema name.
    private const string ChannelSql = "'cityos:' || left(md5(current_schema()), 24)";
    private const int NotifyLimitBytes = 7999;
    private const string ListenerName = "cityos-cluster-listener";
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(5);

    private readonly PostgresEntityStore _store;
    private readonly NpgsqlDataSource _listenSource;
    private readonly ClusterEventHub _hub;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _lock = new();
    private readonly TaskCompletionSource _firstListen = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _loop;
    private readonly TimeProvider _time;
    private int _listenerProcessId;

    // Written only by the listen loop, read by /health: replaced whole, never mutated.
    private volatile ClusterChannelStatus _status = new(ClusterChannelStatus.PostgresListenTransport, Connected: false, Since: null, Reconnects: 0);
    private bool _disposed;

    /// <summary>
    /// Events among the nodes using the database of <paramref name="connectionString"/>; publishes through
    /// <paramref name="store"/>'s connections. Nothing is opened before <see cref="StartAsync"/>.
    /// </summary>
    /// <param name="connectionString">The database (and, first in its search path, the schema) the nodes share.</param>
    /// <param name="store">The store whose connections publish.</param>
    /// <param name="logger">Records lost and regained LISTEN connections.</param>
    /// <param name="timeProvider">The clock of <see cref="Status"/>; the system clock when null.</param>
    public PostgresClusterEvents(string connectionString, PostgresEntityStore store, ILogger<PostgresClusterEvents>? logger = null, TimeProvider? timeProvider = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
        _time = timeProvider ?? TimeProvider.System;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _hub = new ClusterEventHub(_logger);
        var builder = new NpgsqlConnectionStringBuilder(connectionString)
        {
            // A long-lived connection of its own: never returned to a pool, and probed while idle so that a
            // silently dropped one (a NAT or firewall timeout) is noticed and replaced.
            Pooling = false,
            KeepAlive = 15,
            ApplicationName = ListenerName,
        };
        _listenSource = NpgsqlDataSource.Create(builder);
    }

    /// <inheritdoc />
    public string NodeId { get; } = Guid.NewGuid().ToString("N");

    /// <inheritdoc />
    public ClusterChannelStatus Status => _status;

    /// <summary>The backend process id of the LISTEN connection (0 while none); lets tests cut it.</summary>
    internal int ListenerProcessId => Volatile.Read(ref _listenerProcessId);

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _loop ??= Task.Run(ListenAsync, CancellationToken.None);
        }

        return _firstListen.Task.WaitAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async Task PublishAsync(string channel, string payload, CancellationToken cancellationToken)
    {
        ClusterEventHub.Validate(channel, payload);
        var envelope = JsonSerializer.Serialize(new Dictionary<string, string> { ["o"] = NodeId, ["c"] = channel, ["p"] = payload });
        if (Encoding.UTF8.GetByteCount(envelope) > NotifyLimitBytes)
        {
            throw new ArgumentException("The cluster event payload is too long once escaped for NOTIFY.", nameof(payload));
        }

        await using var connection = await _store.OpenInitializedAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand($"SELECT pg_notify({ChannelSql}, $1)", connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = envelope });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public IDisposable Subscribe(string channel, Func<ClusterEvent, CancellationToken, Task> handler) => _hub.Subscribe(channel, handler);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        Task? loop;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            loop = _loop;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        if (loop is not null)
        {
            await loop.ConfigureAwait(false);
        }

        _firstListen.TrySetCanceled();
        await _hub.DisposeAsync().ConfigureAwait(false);
        await _listenSource.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    private async Task ListenAsync()
    {
        var token = _stopping.Token;
        var delay = TimeSpan.FromMilliseconds(100);
        var listenedBefore = false;
        while (!token.IsCancellationRequested)
        {
            try
            {
                await using var connection = await _listenSource.OpenConnectionAsync(token).ConfigureAwait(false);
                connection.Notification += OnNotification;
                string channel;
                // The application name names the channel too, so that an operator (or a test) can tell whose
                // listener a backend is in pg_stat_activity.
                await using (var name = new NpgsqlCommand($"SELECT set_config('application_name', '{ListenerName} ' || {ChannelSql}, false)", connection))
                {
                    channel = ((string)(await name.ExecuteScalarAsync(token).ConfigureAwait(false))!)[(ListenerName.Length + 1)..];
                }

                await using (var listen = new NpgsqlCommand($"LISTEN \"{channel.Replace("\"", "\"\"", StringComparison.Ordinal)}\"", connection))
                {
                    await listen.ExecuteNonQueryAsync(token).ConfigureAwait(false);
                }

                Volatile.Write(ref _listenerProcessId, connection.ProcessID);
                var before = _status;
                _status = before with { Connected = true, Since = _time.GetUtcNow(), Reconnects = before.Reconnects + (listenedBefore ? 1 : 0) };
                if (listenedBefore)
                {
                    // Whatever was published while the connection was down is lost: subscribers reload instead.
                    LogReconnected(_logger);
                    _hub.PostResync();
                }

                listenedBefore = true;
                _firstListen.TrySetResult();
                delay = TimeSpan.FromMilliseconds(100);
                while (true)
                {
                    await connection.WaitAsync(token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                Volatile.Write(ref _listenerProcessId, 0);
                var before = _status;
                if (before.Connected || before.Since is null)
                {
                    // Down since the first failure, not the latest retry: /health tells how long events have been missed.
                    _status = before with { Connected = false, Since = _time.GetUtcNow() };
                }

                LogListenFailed(_logger, ex, delay.TotalMilliseconds);
                if (!listenedBefore)
                {
                    // Start-up waits for the first LISTEN; it fails rather than serving with stale memory unnoticed.
                    _firstListen.TrySetException(ex);
                }
            }

            try
            {
                await Task.Delay(delay, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxRetryDelay.Ticks));
        }
    }

    private void OnNotification(object sender, NpgsqlNotificationEventArgs e)
    {
        try
        {
            using var document = JsonDocument.Parse(e.Payload);
            var root = document.RootElement;
            var origin = root.GetProperty("o").GetString() ?? string.Empty;
            _hub.Post(new ClusterEvent(
                root.GetProperty("c").GetString() ?? string.Empty,
                root.GetProperty("p").GetString() ?? string.Empty,
                origin,
                IsLocal: string.Equals(origin, NodeId, StringComparison.Ordinal),
                IsResync: false));
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            // Someone else NOTIFYing on the channel; not ours to interpret.
            LogForeignNotification(_logger, ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The cluster LISTEN connection failed; retrying in {DelayMs} ms")]
    private static partial void LogListenFailed(ILogger logger, Exception exception, double delayMs);

    [LoggerMessage(Level = LogLevel.Information, Message = "The cluster LISTEN connection is back; every node-local cache reloads")]
    private static partial void LogReconnected(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ignored a notification on the cluster channel that is not a CityOS event")]
    private static partial void LogForeignNotification(ILogger logger, Exception exception);
}
