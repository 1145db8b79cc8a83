namespace CityOS.Broker.Cluster;

/// <summary>
/// A change-notification channel between the broker nodes that share one store, so that whatever a node keeps
/// in memory (hosted @contexts today; subscriptions and live updates later) follows changes made on another
/// node. Events are small JSON texts on named channels; delivery is at most once and best effort, so every
/// subscriber must also handle <see cref="ClusterEvent.IsResync"/>, sent when events may have been missed.
/// </summary>
/// <remarks>
/// Single-node stores (SQLite) use <see cref="InProcessClusterEvents"/>; PostgreSQL carries events with
/// LISTEN/NOTIFY. Events are delivered to the publishing node too (with <see cref="ClusterEvent.IsLocal"/>),
/// so a later feature may react to every change in one place.
/// </remarks>
public interface IClusterEvents
{
    /// <summary>The largest payload in UTF-8 bytes; PostgreSQL's NOTIFY limit (8000) less room for the envelope.</summary>
    public const int MaxPayloadBytes = 7000;

    /// <summary>This node's id, the <see cref="ClusterEvent.Origin"/> of the events it publishes.</summary>
    string NodeId { get; }

    /// <summary>Whether this node currently receives the other nodes' events, since when, and how often it reconnected.</summary>
    ClusterChannelStatus Status { get; }

    /// <summary>
    /// Begins receiving events; returns once receiving, so that a node that loads its state after this call
    /// misses no change made after the load. Idempotent.
    /// </summary>
    Task StartAsync(CancellationToken cancellationToken);

    /// <summary>Sends <paramref name="payload"/> on <paramref name="channel"/> to every node, this one included.</summary>
    /// <exception cref="ArgumentException">The channel is empty or the payload exceeds <see cref="MaxPayloadBytes"/>.</exception>
    Task PublishAsync(string channel, string payload, CancellationToken cancellationToken);

    /// <summary>
    /// Calls <paramref name="handler"/> for every event on <paramref name="channel"/> and for every resync, one
    /// call at a time per node, until the returned handle is disposed. A handler's exception is logged and dropped.
    /// </summary>
    IDisposable Subscribe(string channel, Func<ClusterEvent, CancellationToken, Task> handler);
}

/// <summary>One event received from the cluster.</summary>
/// <param name="Channel">The channel it was published on.</param>
/// <param name="Payload">The published JSON text; empty for a resync.</param>
/// <param name="Origin">The <see cref="IClusterEvents.NodeId"/> of the publisher; empty for a resync.</param>
/// <param name="IsLocal">Whether this node published it (its memory is then already up to date).</param>
/// <param name="IsResync">
/// Events may have been missed (e.g. the connection carrying them was lost): the subscriber must reload the
/// state it keeps from the store.
/// </param>
public sealed record ClusterEvent(string Channel, string Payload, string Origin, bool IsLocal, bool IsResync);
