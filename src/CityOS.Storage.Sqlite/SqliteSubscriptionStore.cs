using System.Globalization;
using CityOS.Broker.Subscriptions;
using CityOS.NgsiLd.Model;
using CityOS.Storage.Sqlite.Internal;
using Microsoft.Data.Sqlite;

namespace CityOS.Storage.Sqlite;

/// <summary>NGSI-LD subscriptions in the same database as the entities; writes go through the store's single writer.</summary>
public sealed class SqliteSubscriptionStore : ISubscriptionStore
{
    private const string Columns = StoredSubscriptionRow.Columns;

    private readonly SqliteEntityStore _store;

    /// <summary>Keeps subscriptions in <paramref name="store"/>'s database; opens it on first use if needed.</summary>
    public SqliteSubscriptionStore(SqliteEntityStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<StoredSubscription>> ListAsync(CancellationToken cancellationToken) =>
        _store.ReadRawAsync<IReadOnlyList<StoredSubscription>>(
            connection =>
            {
                var list = new List<StoredSubscription>();
                using var reader = connection.Command($"SELECT {Columns} FROM subscriptions ORDER BY tenant, created_at, id").ExecuteReader();
                while (reader.Read())
                {
                    list.Add(StoredSubscriptionRow.Read(reader));
                }

                return list;
            },
            cancellationToken);

    /// <inheritdoc />
    public Task<StoredSubscription?> GetAsync(string tenant, string id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        ArgumentNullException.ThrowIfNull(id);
        return _store.ReadRawAsync(
            connection =>
            {
                var command = connection.Command($"SELECT {Columns} FROM subscriptions WHERE tenant = $tenant AND id = $id");
                command.Parameters.AddWithValue("$tenant", tenant);
                command.Parameters.AddWithValue("$id", id);
                using var reader = command.ExecuteReader();
                return reader.Read() ? StoredSubscriptionRow.Read(reader) : null;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<bool> InsertAsync(StoredSubscription subscription, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(subscription);
        return _store.WriteRawAsync(
            connection =>
            {
                var command = connection.Command(
                    "INSERT INTO subscriptions (tenant, id, doc, created_at, modified_at) VALUES ($tenant, $id, $doc, $created, $modified) ON CONFLICT DO NOTHING");
                Bind(command, subscription);
                return command.ExecuteNonQuery() > 0;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<bool> UpdateAsync(StoredSubscription subscription, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(subscription);
        return _store.WriteRawAsync(
            connection =>
            {
                var command = connection.Command("UPDATE subscriptions SET doc = $doc, modified_at = $modified WHERE tenant = $tenant AND id = $id AND $created IS NOT NULL");
                Bind(command, subscription);
                return command.ExecuteNonQuery() > 0;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<bool> DeleteAsync(string tenant, string id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        ArgumentNullException.ThrowIfNull(id);
        return _store.WriteRawAsync(
            connection =>
            {
                var command = connection.Command("DELETE FROM subscriptions WHERE tenant = $tenant AND id = $id");
                command.Parameters.AddWithValue("$tenant", tenant);
                command.Parameters.AddWithValue("$id", id);
                return command.ExecuteNonQuery() > 0;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task AddStatusAsync(string tenant, string id, DeliveryStatus delta, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        ArgumentNullException.ThrowIfNull(id);
        ArgumentNullException.ThrowIfNull(delta);
        return _store.WriteRawAsync(
            connection =>
            {
                var command = connection.Command(
                    """
                    UPDATE subscriptions SET
                        times_sent = times_sent + $sent,
                        times_failed = times_failed + $failed,
                        last_notification = CASE WHEN last_notification IS NULL OR last_notification < $notified THEN coalesce($notified, last_notification) ELSE last_notification END,
                        last_success = CASE WHEN last_success IS NULL OR last_success < $success THEN coalesce($success, last_success) ELSE last_success END,
                        last_failure = CASE WHEN last_failure IS NULL OR last_failure < $failure THEN coalesce($failure, last_failure) ELSE last_failure END
                    WHERE tenant = $tenant AND id = $id
                    """);
                command.Parameters.AddWithValue("$tenant", tenant);
                command.Parameters.AddWithValue("$id", id);
                command.Parameters.AddWithValue("$sent", delta.TimesSent);
                command.Parameters.AddWithValue("$failed", delta.TimesFailed);
                command.Parameters.AddWithValue("$notified", Time(delta.LastNotification));
                command.Parameters.AddWithValue("$success", Time(delta.LastSuccess));
                command.Parameters.AddWithValue("$failure", Time(delta.LastFailure));
                return command.ExecuteNonQuery();
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<bool> ClaimPeriodicAsync(string tenant, string id, DateTimeOffset now, DateTimeOffset notAfter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        ArgumentNullException.ThrowIfNull(id);
        return _store.WriteRawAsync(
            connection =>
            {
                var command = connection.Command(
                    "UPDATE subscriptions SET last_periodic = $now WHERE tenant = $tenant AND id = $id AND (last_periodic IS NULL OR last_periodic <= $notAfter)");
                command.Parameters.AddWithValue("$tenant", tenant);
                command.Parameters.AddWithValue("$id", id);
                command.Parameters.AddWithValue("$now", Timestamps.Format(now));
                command.Parameters.AddWithValue("$notAfter", Timestamps.Format(notAfter));
                return command.ExecuteNonQuery() > 0;
            },
            cancellationToken);
    }

    private static void Bind(SqliteCommand command, StoredSubscription subscription)
    {
        command.Parameters.AddWithValue("$tenant", subscription.Tenant);
        command.Parameters.AddWithValue("$id", subscription.Id);
        command.Parameters.AddWithValue("$doc", subscription.Document);
        command.Parameters.AddWithValue("$created", subscription.CreatedAt.ToString("O", CultureInfo.InvariantCulture));
        command.Parameters.AddWithValue("$modified", subscription.ModifiedAt.ToString("O", CultureInfo.InvariantCulture));
    }

    private static object Time(DateTimeOffset? time) => time is { } t ? Timestamps.Format(t) : DBNull.Value;
}
