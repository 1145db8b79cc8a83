using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CityOS.Broker.Cluster;

/// <summary>
/// The subscriber side shared by <see cref="IClusterEvents"/> implementations: keeps the subscriptions and
/// calls them from one background loop, so that a slow handler never blocks whatever receives the events
/// (e.g. a LISTEN connection) and handlers never run concurrently with themselves.
/// </summary>
public sealed partial class ClusterEventHub : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly List<Subscription> _subscriptions = [];
    private readonly Channel<ClusterEvent> _queue = Channel.CreateUnbounded<ClusterEvent>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stopping = new();
    private readonly ILogger _logger;
    private readonly Task _loop;

    /// <summary>Starts the delivery loop; <paramref name="logger"/> records handler failures.</summary>
    public ClusterEventHub(ILogger? logger = null)
    {
        _logger = logger ?? NullLogger.Instance;
        _loop = Task.Run(DeliverAsync);
    }

    /// <summary>Checks a channel name and payload against the limits of <see cref="IClusterEvents"/>.</summary>
    /// <exception cref="ArgumentException">When either is out of bounds.</exception>
    public static void Validate(string channel, string payload)
    {
        ArgumentException.ThrowIfNullOrEmpty(channel);
        ArgumentNullException.ThrowIfNull(payload);
        if (channel.Length > 100)
        {
            throw new ArgumentException("A cluster channel name has at most 100 characters.", nameof(channel));
        }

        if (Encoding.UTF8.GetByteCount(payload) > IClusterEvents.MaxPayloadBytes)
        {
            throw new ArgumentException($"A cluster event payload has at most {IClusterEvents.MaxPayloadBytes} UTF-8 bytes; publish an id and let subscribers read the rest from the store.", nameof(payload));
        }
    }

    /// <summary>See <see cref="IClusterEvents.Subscribe"/>.</summary>
    public IDisposable Subscribe(string channel, Func<ClusterEvent, CancellationToken, Task> handler)
    {
        ArgumentException.ThrowIfNullOrEmpty(channel);
        ArgumentNullException.ThrowIfNull(handler);
        var subscription = new Subscription(this, channel, handler);
        lock (_lock)
        {
            _subscriptions.Add(subscription);
        }

        return subscription;
    }

    /// <summary>Queues an event for the subscribers of its channel.</summary>
    public void Post(ClusterEvent clusterEvent) => _queue.Writer.TryWrite(clusterEvent);

    /// <summary>Queues a resync (events may have been missed) for every subscriber.</summary>
    public void PostResync() => _queue.Writer.TryWrite(new ClusterEvent(string.Empty, string.Empty, string.Empty, IsLocal: false, IsResync: true));

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }

        _stopping.Dispose();
    }

    private async Task DeliverAsync()
    {
        var token = _stopping.Token;
        await foreach (var clusterEvent in _queue.Reader.ReadAllAsync(token).ConfigureAwait(false))
        {
            Subscription[] targets;
            lock (_lock)
            {
                targets = [.. _subscriptions.Where(s => clusterEvent.IsResync || string.Equals(s.Channel, clusterEvent.Channel, StringComparison.Ordinal))];
            }

            foreach (var target in targets)
            {
                try
                {
                    await target.Handler(target.Channel == clusterEvent.Channel ? clusterEvent : clusterEvent with { Channel = target.Channel }, token).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !token.IsCancellationRequested)
                {
                    LogHandlerFailed(_logger, ex, target.Channel);
                }
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "A handler of cluster channel {Channel} failed")]
    private static partial void LogHandlerFailed(ILogger logger, Exception exception, string channel);

    private void Remove(Subscription subscription)
    {
        lock (_lock)
        {
            _subscriptions.Remove(subscription);
        }
    }

    private sealed class Subscription(ClusterEventHub hub, string channel, Func<ClusterEvent, CancellationToken, Task> handler) : IDisposable
    {
        public string Channel { get; } = channel;

        public Func<ClusterEvent, CancellationToken, Task> Handler { get; } = handler;

        public void Dispose() => hub.Remove(this);
    }
}
