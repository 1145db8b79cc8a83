using Microsoft.Extensions.Logging;

namespace CityOS.Broker.Cluster;

/// <summary>
/// <see cref="IClusterEvents"/> for a single node (the SQLite store): events go only to this process's subscribers.
/// </summary>
public sealed class InProcessClusterEvents : IClusterEvents, IAsyncDisposable
{
    private readonly ClusterEventHub _hub;

    /// <summary>An in-process channel; <paramref name="logger"/> records handler failures.</summary>
    public InProcessClusterEvents(ILogger<InProcessClusterEvents>? logger = null)
    {
        _hub = new ClusterEventHub(logger);

        // Nothing to lose between publisher and subscriber in one process: connected from the start, for good.
        Status = new ClusterChannelStatus(ClusterChannelStatus.InProcessTransport, Connected: true, DateTimeOffset.UtcNow, Reconnects: 0);
    }

    /// <inheritdoc />
    public string NodeId { get; } = Guid.NewGuid().ToString("N");

    /// <inheritdoc />
    public ClusterChannelStatus Status { get; }

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public Task PublishAsync(string channel, string payload, CancellationToken cancellationToken)
    {
        ClusterEventHub.Validate(channel, payload);
        _hub.Post(new ClusterEvent(channel, payload, NodeId, IsLocal: true, IsResync: false));
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public IDisposable Subscribe(string channel, Func<ClusterEvent, CancellationToken, Task> handler) => _hub.Subscribe(channel, handler);

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _hub.DisposeAsync();
}
