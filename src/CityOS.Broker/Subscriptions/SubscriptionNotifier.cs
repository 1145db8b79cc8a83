using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using CityOS.Broker.Changes;
using CityOS.Broker.Storage;
using CityOS.NgsiLd.JsonLd;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace CityOS.Broker.Subscriptions;

/// <summary>Delivery figures of one subscription on this node (not yet in the store's counters).</summary>
/// <param name="Unflushed">Counters not yet added to the store.</param>
/// <param name="QueueLength">Notifications waiting.</param>
/// <param name="Dropped">Notifications dropped because the queue was full (since this node started).</param>
public sealed record LocalDelivery(DeliveryStatus Unflushed, int QueueLength, long Dropped);

/// <summary>
/// Sends the notifications of on-change subscriptions, off the write path. After each commit the changes are
/// queued (<see cref="OnCommitted"/> only writes to a channel); one loop matches them against the tenant's
/// subscriptions and builds each notification; each subscription has its own bounded, ordered queue, drained by
/// an asynchronous loop while it has work, so a slow or dead endpoint delays only its own subscription. Sends are
/// retried with exponential back-off; the counters are kept in memory and added to the store periodically.
/// </summary>
/// <remarks>
/// Each node matches only the writes it made, and every node knows every subscription
/// (<see cref="SubscriptionRegistry"/>), so a write notifies each matching subscription once in the cluster.
/// Pending notifications live in memory only: a crash loses what was queued.
/// </remarks>
public sealed partial class SubscriptionNotifier : IEntityChangeObserver, IAsyncDisposable
{
    /// <summary>The named HttpClient notifications are sent with.</summary>
    public const string HttpClientName = "cityos-notifications";

    private readonly SubscriptionRegistry _registry;
    private readonly ISubscriptionStore _store;
    private readonly IEntityStore _entities;
    private readonly HttpClient _http;
    private readonly MqttNotificationSender _mqtt;
    private readonly SubscriptionOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Channel<(string Tenant, IReadOnlyList<EntityChange> Changes)> _changes;
    private readonly ConcurrentDictionary<(string Tenant, string Id), Delivery> _deliveries = new();
    private readonly ConcurrentDictionary<(string Tenant, string Id), CancellationTokenSource> _periodic = new();
    private readonly SemaphoreSlim _sendSlots;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _startLock = new();
    private Task? _matcher;
    private Task? _flusher;
    private long _droppedChanges;
    private int _disposed;

    /// <summary>The notifier; call <see cref="Start"/> once the registry is loaded.</summary>
    public SubscriptionNotifier(
        SubscriptionRegistry registry,
        ISubscriptionStore store,
        IEntityStore entities,
        IHttpClientFactory httpClients,
        IOptions<SubscriptionOptions> options,
        TimeProvider time,
        ILoggerFactory? loggers = null)
    {
        ArgumentNullException.ThrowIfNull(httpClients);
        ArgumentNullException.ThrowIfNull(options);
        _registry = registry;
        _store = store;
        _entities = entities;
        _http = httpClients.CreateClient(HttpClientName);
        _options = options.Value;
        _time = time;
        _logger = loggers?.CreateLogger<SubscriptionNotifier>() ?? (ILogger)NullLogger.Instance;
        _mqtt = new MqttNotificationSender(loggers?.CreateLogger<MqttNotificationSender>());
        _sendSlots = new SemaphoreSlim(_options.MaxConcurrentSends);
        _changes = Channel.CreateBounded<(string, IReadOnlyList<EntityChange>)>(new BoundedChannelOptions(_options.ChangeQueueCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _registry.Changed += OnSubscriptionChanged;
    }

    /// <summary>Committed writes not matched because the change queue was full (since start).</summary>
    public long DroppedChanges => Interlocked.Read(ref _droppedChanges);

    /// <summary>Writes waiting to be matched.</summary>
    public int PendingChanges => _changes.Reader.CanCount ? _changes.Reader.Count : 0;

    /// <summary>Starts the matching and status loops and the timers of periodic subscriptions. Idempotent.</summary>
    public void Start()
    {
        lock (_startLock)
        {
            if (_matcher is not null)
            {
                return;
            }

            _matcher = Task.Run(MatchLoopAsync);
            _flusher = Task.Run(FlushLoopAsync);
        }

        foreach (var active in _registry.All())
        {
            OnSubscriptionChanged(active.Subscription.Tenant, active.Subscription.Id);
        }
    }

    /// <inheritdoc />
    public ValueTask OnWriteAsync(string tenant, IEntityWriteSession session, IReadOnlyList<EntityChange> changes, CancellationToken cancellationToken) =>
        ValueTask.CompletedTask;

    /// <inheritdoc />
    public void OnCommitted(string tenant, IReadOnlyList<EntityChange> changes)
    {
        ArgumentNullException.ThrowIfNull(changes);
        if (_registry.For(tenant).Count == 0)
        {
            return;
        }

        if (!_changes.Writer.TryWrite((tenant, changes)))
        {
            Interlocked.Increment(ref _droppedChanges);
        }
    }

    /// <summary>This node's unflushed counters and queue of a subscription.</summary>
    public LocalDelivery LocalStatus(string tenant, string id)
    {
        if (!_deliveries.TryGetValue((tenant, id), out var delivery))
        {
            return new LocalDelivery(DeliveryStatus.None, 0, 0);
        }

        lock (delivery.Lock)
        {
            return new LocalDelivery(delivery.Unflushed, delivery.Queue.Count, delivery.Dropped);
        }
    }

    /// <summary>Sum over subscriptions of queued and dropped notifications (for /health).</summary>
    public (int Queued, long Dropped, int Subscriptions) Totals()
    {
        int queued = 0, count = 0;
        long dropped = 0;
        foreach (var delivery in _deliveries.Values)
        {
            lock (delivery.Lock)
            {
                queued += delivery.Queue.Count;
                dropped += delivery.Dropped;
            }

            count++;
        }

        return (queued, dropped, count);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        // The container may dispose it twice: it is registered as itself and as a change observer.
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _registry.Changed -= OnSubscriptionChanged;
        _changes.Writer.TryComplete();
        await _stopping.CancelAsync().ConfigureAwait(false);
        foreach (var timer in _periodic.Values)
        {
            await timer.CancelAsync().ConfigureAwait(false);
        }

        foreach (var task in new[] { _matcher, _flusher })
        {
            if (task is not null)
            {
                try
                {
                    await task.ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    // Stopping.
                }
            }
        }

        // Counters of the last moments, so that a clean stop loses none.
        await FlushAsync(CancellationToken.None).ConfigureAwait(false);
        await _mqtt.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
        _sendSlots.Dispose();
    }

    private async Task MatchLoopAsync()
    {
        var token = _stopping.Token;
        await foreach (var (tenant, changes) in _changes.Reader.ReadAllAsync(token).ConfigureAwait(false))
        {
            try
            {
                MatchWrite(tenant, changes, _time.GetUtcNow());
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogMatchFailed(_logger, e, tenant);
            }
        }
    }

    /// <summary>
    /// Matches the changes of one write: each change against the subscriptions that may select its entity's types;
    /// each subscription that matched then gets one notification with its changes, in write order.
    /// </summary>
    private void MatchWrite(string tenant, IReadOnlyList<EntityChange> changes, DateTimeOffset now)
    {
        List<(ActiveSubscription Active, List<MatchedChange> Changes)>? matched = null;
        foreach (var change in changes)
        {
            var entity = change.After ?? change.Before;
            foreach (var active in _registry.Candidates(tenant, change.EntityId, entity?[NgsiLd.Model.Names.Type] as JsonArray))
            {
                var subscription = active.Subscription;
                if (!subscription.IsLiveAt(now) || SubscriptionMatcher.Match(subscription, change) is not { } match)
                {
                    continue;
                }

                matched ??= [];
                var slot = matched.FindIndex(m => ReferenceEquals(m.Active, active));
                if (slot < 0)
                {
                    matched.Add((active, [match]));
                }
                else
                {
                    matched[slot].Changes.Add(match);
                }
            }
        }

        foreach (var (active, list) in matched ?? [])
        {
            try
            {
                Notify(active, list, now);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogMatchFailed(_logger, e, active.Subscription.Id);
            }
        }
    }

    private void Notify(ActiveSubscription active, List<MatchedChange> matched, DateTimeOffset now)
    {
        var subscription = active.Subscription;
        var delivery = DeliveryOf(subscription);
        if (subscription.Throttling is { } throttling)
        {
            lock (delivery.Lock)
            {
                // Within the throttling gap the notification is dropped, not postponed (as Stellio does).
                if (delivery.LastQueued is { } last && now - last < throttling)
                {
                    delivery.Throttled++;
                    return;
                }

                delivery.LastQueued = now;
            }
        }

        Enqueue(delivery, active, NotificationBuilder.Build(subscription, active.NotificationContext, matched, now));
    }

    private Delivery DeliveryOf(Subscription subscription) =>
        _deliveries.GetOrAdd((subscription.Tenant, subscription.Id), static _ => new Delivery());

    private void Enqueue(Delivery delivery, ActiveSubscription active, JsonObject body)
    {
        lock (delivery.Lock)
        {
            if (delivery.Queue.Count >= _options.QueueCapacity)
            {
                delivery.Dropped++;
                return;
            }

            delivery.Queue.Enqueue(new Pending(active, body));
            if (delivery.Draining)
            {
                return;
            }

            delivery.Draining = true;
        }

        _ = Task.Run(() => DrainAsync(delivery));
    }

    private async Task DrainAsync(Delivery delivery)
    {
        var token = _stopping.Token;
        while (!token.IsCancellationRequested)
        {
            Pending next;
            lock (delivery.Lock)
            {
                if (delivery.Queue.Count == 0)
                {
                    delivery.Draining = false;
                    return;
                }

                next = delivery.Queue.Dequeue();
            }

            try
            {
                await SendWithRetriesAsync(delivery, next, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                LogSendFailed(_logger, e, next.Active.Subscription.Id);
            }
        }
    }

    private async Task SendWithRetriesAsync(Delivery delivery, Pending pending, CancellationToken token)
    {
        var subscription = pending.Active.Subscription;
        var sentAt = _time.GetUtcNow();
        var delay = TimeSpan.FromMilliseconds(_options.RetryDelayMs);
        for (var attempt = 1; ; attempt++)
        {
            // A subscription deleted or paused since the notification was queued gets nothing more.
            var current = _registry.Find(subscription.Tenant, subscription.Id);
            if (current is null || !current.Subscription.IsLiveAt(_time.GetUtcNow()))
            {
                return;
            }

            var (ok, retryable, reason) = await SendOnceAsync(current.Subscription, pending, token).ConfigureAwait(false);
            if (ok)
            {
                Record(delivery, new DeliveryStatus(1, 0, sentAt, _time.GetUtcNow(), null));
                return;
            }

            if (!retryable || attempt >= _options.MaxAttempts)
            {
                LogNotificationFailed(_logger, subscription.Id, subscription.Endpoint.Uri, attempt, reason);
                Record(delivery, new DeliveryStatus(1, 1, sentAt, null, _time.GetUtcNow()));
                return;
            }

            await Task.Delay(delay, _time, token).ConfigureAwait(false);
            delay *= 2;
        }
    }

    private static void Record(Delivery delivery, DeliveryStatus delta)
    {
        lock (delivery.Lock)
        {
            delivery.Unflushed = delivery.Unflushed.Add(delta);
        }
    }

    private async Task<(bool Ok, bool Retryable, string Reason)> SendOnceAsync(Subscription subscription, Pending pending, CancellationToken token)
    {
        await _sendSlots.WaitAsync(token).ConfigureAwait(false);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
            timeout.CancelAfter(subscription.Endpoint.Timeout ?? TimeSpan.FromMilliseconds(_options.TimeoutMs));
            try
            {
                if (subscription.Endpoint.IsMqtt)
                {
                    await _mqtt.PublishAsync(subscription, Metadata(subscription, pending.Active.NotificationContext), pending.Body, timeout.Token).ConfigureAwait(false);
                    return (true, false, "published");
                }

                return await PostAsync(subscription, pending, timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!token.IsCancellationRequested)
            {
                return (false, true, "timed out");
            }
            catch (Exception e) when (e is HttpRequestException or IOException or InvalidOperationException or MQTTnet.Exceptions.MqttCommunicationException)
            {
                return (false, true, e.Message);
            }
        }
        finally
        {
            _sendSlots.Release();
        }
    }

    private async Task<(bool Ok, bool Retryable, string Reason)> PostAsync(Subscription subscription, Pending pending, CancellationToken token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, subscription.Endpoint.Uri);
        var content = new ByteArrayContent(pending.Bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue(subscription.Endpoint.Accept);
        request.Content = content;
        foreach (var (name, value) in Metadata(subscription, pending.Active.NotificationContext))
        {
            if (name != "Content-Type")
            {
                request.Headers.TryAddWithoutValidation(name, value);
            }
        }

        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, token).ConfigureAwait(false);
        var status = (int)response.StatusCode;
        if (status is >= 200 and < 300)
        {
            return (true, false, "ok");
        }

        // Client errors other than timeouts and rate limits will not go away by sending again.
        var retryable = status >= 500 || status is 408 or 429;
        return (false, retryable, $"HTTP {status}");
    }

    /// <summary>The headers (HTTP) or metadata (MQTT) of a notification: Content-Type, Link, NGSILD-Tenant, receiverInfo.</summary>
    private static List<KeyValuePair<string, string>> Metadata(Subscription subscription, LdContext context)
    {
        var metadata = new List<KeyValuePair<string, string>> { new("Content-Type", subscription.Endpoint.Accept) };
        if (subscription.Endpoint.Accept == "application/json")
        {
            metadata.Add(new("Link", LinkHeader.Format(context.Urls[0])));
        }

        if (subscription.Tenant.Length > 0)
        {
            metadata.Add(new("NGSILD-Tenant", subscription.Tenant));
        }

        metadata.AddRange(subscription.Endpoint.ReceiverInfo);
        return metadata;
    }

    private async Task FlushLoopAsync()
    {
        var token = _stopping.Token;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(_options.StatusFlushMs), _time);
        while (await timer.WaitForNextTickAsync(token).ConfigureAwait(false))
        {
            await FlushAsync(token).ConfigureAwait(false);
        }
    }

    /// <summary>Adds every subscription's unflushed counters to the store.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        foreach (var ((tenant, id), delivery) in _deliveries)
        {
            DeliveryStatus delta;
            lock (delivery.Lock)
            {
                delta = delivery.Unflushed;
                if (delta.IsEmpty)
                {
                    continue;
                }

                delivery.Unflushed = DeliveryStatus.None;
            }

            try
            {
                await _store.AddStatusAsync(tenant, id, delta, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Kept for the next round rather than lost.
                Record(delivery, delta);
                LogFlushFailed(_logger, e, id);
            }
        }
    }

    private void OnSubscriptionChanged(string tenant, string id)
    {
        var active = _registry.Find(tenant, id);
        if (active is null)
        {
            if (_deliveries.TryRemove((tenant, id), out var gone))
            {
                lock (gone.Lock)
                {
                    gone.Queue.Clear();
                }
            }
        }

        // Periodic subscriptions: (re)start the timer with the new definition, stop it when gone.
        if (_periodic.TryRemove((tenant, id), out var previous))
        {
            previous.Cancel();
            previous.Dispose();
        }

        if (active?.Subscription.TimeInterval is { } interval && _matcher is not null)
        {
            var cts = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
            if (_periodic.TryAdd((tenant, id), cts))
            {
                _ = Task.Run(() => PeriodicLoopAsync(tenant, id, interval, cts.Token));
            }
            else
            {
                cts.Dispose();
            }
        }
    }

    private async Task PeriodicLoopAsync(string tenant, string id, TimeSpan interval, CancellationToken token)
    {
        try
        {
            using var timer = new PeriodicTimer(interval, _time);
            while (await timer.WaitForNextTickAsync(token).ConfigureAwait(false))
            {
                var active = _registry.Find(tenant, id);
                var now = _time.GetUtcNow();
                if (active is null || !active.Subscription.IsLiveAt(now))
                {
                    continue;
                }

                try
                {
                    // Every node runs the timer; the store lets one of them send each period (the node whose tick comes
                    // first keeps winning: another node ticking later within the period finds it taken).
                    if (!await _store.ClaimPeriodicAsync(tenant, id, now, now - (interval * 0.9), token).ConfigureAwait(false))
                    {
                        continue;
                    }

                    var entities = await PeriodicEntitiesAsync(active.Subscription, token).ConfigureAwait(false);
                    if (entities.Count > 0)
                    {
                        Enqueue(DeliveryOf(active.Subscription), active, NotificationBuilder.BuildPeriodic(active.Subscription, active.NotificationContext, entities, now));
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    LogMatchFailed(_logger, e, id);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopped or redefined.
        }
    }

    private async Task<List<JsonObject>> PeriodicEntitiesAsync(Subscription subscription, CancellationToken token)
    {
        if (!await _entities.TenantExistsAsync(subscription.Tenant, token).ConfigureAwait(false))
        {
            return [];
        }

        var found = new List<JsonObject>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var selector in subscription.Entities)
        {
            var query = new EntityQuery
            {
                Ids = selector.Id is null ? null : [selector.Id],
                IdPattern = selector.Id is null ? selector.IdPattern : null,
                Type = selector.Type is NgsiLd.Query.AnyType ? null : selector.Type,
                Q = subscription.Q,
                ScopeQ = subscription.ScopeQ,
                Geo = subscription.GeoQ,
                Limit = 1000,
            };
            var page = await _entities.QueryEntitiesAsync(subscription.Tenant, query, token).ConfigureAwait(false);
            foreach (var entity in page.Entities)
            {
                if (seen.Add((string)entity[NgsiLd.Model.Names.Id]!))
                {
                    found.Add(entity);
                }
            }
        }

        return found;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Matching changes against subscription(s) of {Id} failed")]
    private static partial void LogMatchFailed(ILogger logger, Exception exception, string id);

    [LoggerMessage(Level = LogLevel.Error, Message = "Sending a notification of subscription {Id} failed unexpectedly")]
    private static partial void LogSendFailed(ILogger logger, Exception exception, string id);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Notification of subscription {Id} to {Endpoint} failed after {Attempts} attempt(s): {Reason}")]
    private static partial void LogNotificationFailed(ILogger logger, string id, Uri endpoint, int attempts, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Storing the notification counters of subscription {Id} failed; retrying later")]
    private static partial void LogFlushFailed(ILogger logger, Exception exception, string id);

    private sealed record Pending(ActiveSubscription Active, JsonObject Body)
    {
        // Serialized once, not once per attempt.
        public byte[] Bytes { get; } = Encoding.UTF8.GetBytes(Body.ToJsonString());
    }

    private sealed class Delivery
    {
        public Lock Lock { get; } = new();

        public Queue<Pending> Queue { get; } = new();

        public bool Draining { get; set; }

        public DeliveryStatus Unflushed { get; set; } = DeliveryStatus.None;

        public long Dropped { get; set; }

        public long Throttled { get; set; }

        public DateTimeOffset? LastQueued { get; set; }
    }
}
