namespace CityOS.Broker.Subscriptions;

/// <summary>
/// A subscription as a store keeps it: the document (JSON text of the subscription as the client wrote it, with
/// its <c>@context</c> member) and the delivery counters, which nodes add to independently.
/// </summary>
/// <param name="Tenant">The tenant ("" for the default one).</param>
/// <param name="Id">The subscription id.</param>
/// <param name="Document">The JSON document (see <see cref="Subscription.Document"/>) with an "@context" member.</param>
/// <param name="CreatedAt">When it was created.</param>
/// <param name="ModifiedAt">When it was last changed by a client.</param>
/// <param name="Status">The delivery counters summed over every node.</param>
public sealed record StoredSubscription(string Tenant, string Id, string Document, DateTimeOffset CreatedAt, DateTimeOffset ModifiedAt, DeliveryStatus Status);

/// <summary>Notification bookkeeping of one subscription (§5.2.14 read-only members).</summary>
/// <param name="TimesSent">Notifications sent (successfully or not).</param>
/// <param name="TimesFailed">Notifications that failed after every retry.</param>
/// <param name="LastNotification">When the last notification was sent.</param>
/// <param name="LastSuccess">When the last notification succeeded.</param>
/// <param name="LastFailure">When the last notification failed.</param>
public sealed record DeliveryStatus(long TimesSent, long TimesFailed, DateTimeOffset? LastNotification, DateTimeOffset? LastSuccess, DateTimeOffset? LastFailure)
{
    /// <summary>No notification yet.</summary>
    public static DeliveryStatus None { get; } = new(0, 0, null, null, null);

    /// <summary>True when nothing happened.</summary>
    public bool IsEmpty => TimesSent == 0 && TimesFailed == 0 && LastNotification is null && LastSuccess is null && LastFailure is null;

    /// <summary>This status plus <paramref name="delta"/>: counts summed, the later of each time kept.</summary>
    public DeliveryStatus Add(DeliveryStatus delta)
    {
        ArgumentNullException.ThrowIfNull(delta);
        return new(TimesSent + delta.TimesSent, TimesFailed + delta.TimesFailed, Max(LastNotification, delta.LastNotification), Max(LastSuccess, delta.LastSuccess), Max(LastFailure, delta.LastFailure));
    }

    private static DateTimeOffset? Max(DateTimeOffset? a, DateTimeOffset? b) => a is null ? b : b is null ? a : a > b ? a : b;
}

/// <summary>
/// Where subscriptions are kept, per tenant, in the same storage as the entities. Implemented by each store
/// (the compliance suite checks them alike).
/// </summary>
public interface ISubscriptionStore
{
    /// <summary>Every subscription of every tenant (a node loads them at start and after a resync).</summary>
    Task<IReadOnlyList<StoredSubscription>> ListAsync(CancellationToken cancellationToken);

    /// <summary>One subscription, or null.</summary>
    Task<StoredSubscription?> GetAsync(string tenant, string id, CancellationToken cancellationToken);

    /// <summary>Adds a subscription (its status is ignored: a new one starts empty); false when the id is taken in the tenant.</summary>
    Task<bool> InsertAsync(StoredSubscription subscription, CancellationToken cancellationToken);

    /// <summary>Replaces the document and modification time (the status is kept); false when it does not exist.</summary>
    Task<bool> UpdateAsync(StoredSubscription subscription, CancellationToken cancellationToken);

    /// <summary>Removes a subscription; false when it did not exist.</summary>
    Task<bool> DeleteAsync(string tenant, string id, CancellationToken cancellationToken);

    /// <summary>
    /// Adds <paramref name="delta"/> to a subscription's counters (times keep the later value), atomically, so that
    /// nodes can report independently. Nothing happens when the subscription is gone.
    /// </summary>
    Task AddStatusAsync(string tenant, string id, DeliveryStatus delta, CancellationToken cancellationToken);

    /// <summary>
    /// Claims the periodic notification due at <paramref name="now"/>: true (and the claim recorded) when no node
    /// claimed one after <paramref name="notAfter"/>, so that with several nodes each period is sent once.
    /// </summary>
    Task<bool> ClaimPeriodicAsync(string tenant, string id, DateTimeOffset now, DateTimeOffset notAfter, CancellationToken cancellationToken);
}

/// <summary>The one row layout every store reads subscriptions in, so the stores cannot drift apart.</summary>
public static class StoredSubscriptionRow
{
    /// <summary>The columns to select, in the order <see cref="Read"/> expects (times as ISO 8601 text).</summary>
    public const string Columns = "tenant, id, doc, created_at, modified_at, times_sent, times_failed, last_notification, last_success, last_failure";

    /// <summary>The subscription of the reader's current row, selected as <see cref="Columns"/>.</summary>
    public static StoredSubscription Read(System.Data.Common.DbDataReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return new StoredSubscription(
            reader.GetString(0),
            reader.GetString(1),
            reader.GetString(2),
            Parse(reader.GetString(3)),
            Parse(reader.GetString(4)),
            new DeliveryStatus(reader.GetInt64(5), reader.GetInt64(6), TimeOf(reader, 7), TimeOf(reader, 8), TimeOf(reader, 9)));
    }

    private static DateTimeOffset? TimeOf(System.Data.Common.DbDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : Parse(reader.GetString(ordinal));

    private static DateTimeOffset Parse(string text) =>
        DateTimeOffset.Parse(text, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.RoundtripKind);
}
