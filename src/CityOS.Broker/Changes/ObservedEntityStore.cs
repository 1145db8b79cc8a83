using CityOS.Broker.Storage;

namespace CityOS.Broker.Changes;

/// <summary>
/// The entity service's view of the store when change observers are registered: every WriteAsync records its
/// changes (<see cref="ChangeRecordingSession"/>), shows them to the observers inside the transaction, and again
/// after the commit. Reads go straight to the store.
/// </summary>
internal static class ObservedEntityStore
{
    /// <summary>
    /// Runs <paramref name="work"/> as <see cref="IEntityStore.WriteAsync"/> does, telling <paramref name="observers"/>
    /// of every change it makes (nothing extra when there are none).
    /// </summary>
    public static async Task<T> WriteAsync<T>(
        IEntityStore store,
        IEntityChangeObserver[] observers,
        TimeProvider time,
        string tenant,
        bool createTenant,
        Func<IEntityWriteSession, CancellationToken, ValueTask<T>> work,
        CancellationToken cancellationToken)
    {
        if (observers.Length == 0)
        {
            return await store.WriteAsync(tenant, createTenant, work, cancellationToken).ConfigureAwait(false);
        }

        IReadOnlyList<EntityChange> committed = [];
        var result = await store.WriteAsync(tenant, createTenant, async (session, ct) =>
        {
            // A fresh recorder per attempt: a store may run the work again after a transient conflict.
            var recorder = new ChangeRecordingSession(session, tenant, time);
            var value = await work(recorder, ct).ConfigureAwait(false);
            if (recorder.Changes.Count > 0)
            {
                foreach (var observer in observers)
                {
                    await observer.OnWriteAsync(tenant, session, recorder.Changes, ct).ConfigureAwait(false);
                }
            }

            committed = recorder.Changes;
            return value;
        }, cancellationToken).ConfigureAwait(false);

        if (committed.Count > 0)
        {
            foreach (var observer in observers)
            {
                observer.OnCommitted(tenant, committed);
            }
        }

        return result;
    }
}
