using CityOS.Broker.Storage;

namespace CityOS.Broker.Changes;

/// <summary>
/// Learns every entity change the broker makes. Registered in DI (any number); the entity service then records
/// the changes of each write transaction and hands them to every observer twice: inside the transaction, before
/// the commit (to write derived rows atomically with the entity: history, a notification outbox), and after the
/// commit (to act on them: deliver notifications, push live updates).
/// </summary>
public interface IEntityChangeObserver
{
    /// <summary>
    /// Called inside the write transaction, after the work, with the changes in the order they were made. May write
    /// through <paramref name="session"/> (the store's own session, so store-specific extensions are reachable by a
    /// type test). A throw aborts the whole transaction. Like the work, this may run more than once for one call
    /// (the store retries after a transient conflict), so it must keep no effects outside the session.
    /// </summary>
    ValueTask OnWriteAsync(string tenant, IEntityWriteSession session, IReadOnlyList<EntityChange> changes, CancellationToken cancellationToken);

    /// <summary>
    /// Called once after the transaction committed (durably), with the changes it made. Runs on the request's path:
    /// it must not block or wait on I/O (queue the work instead) and should not throw.
    /// </summary>
    void OnCommitted(string tenant, IReadOnlyList<EntityChange> changes);
}
