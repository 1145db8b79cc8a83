using System.Globalization;
using CityOS.Broker.Subscriptions;
using CityOS.NgsiLd.Model;
using Npgsql;

namespace CityOS.Storage.Postgres;

/// <summary>NGSI-LD subscriptions in the same database (and schema) as the entities.</summary>
public sealed class PostgresSubscriptionStore : ISubscriptionStore
{
    private const string Columns = StoredSubscriptionRow.Columns;

    private readonly PostgresEntityStore _store;

    /// <summary>Keeps subscriptions in <paramref name="store"/>'s database; initializes it on first use if needed.</summary>
    public PostgresSubscriptionStore(PostgresEntityStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<StoredSubscription>> ListAsync(CancellationToken cancellationToken)
    {
        var list = new List<StoredSubscription>();
        await using var connection = await _store.OpenInitializedAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand($"SELECT {Columns} FROM subscriptions ORDER BY tenant, created_at, id", connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            list.Add(StoredSubscriptionRow.Read(reader));
        }

        return list;
    }

    /// <inheritdoc />
    public async Task<StoredSubscription?> GetAsync(string tenant, string id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        ArgumentNullException.ThrowIfNull(id);
        await using var connection = await _store.OpenInitializedAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand($"SELECT {Columns} FROM subscriptions WHERE tenant = $1 AND id = $2", connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = id });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? StoredSubscriptionRow.Read(reader) : null;
    }

    /// <inheritdoc />
    public async Task<bool> InsertAsync(StoredSubscription subscription, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(subscription);
        await using var connection = await _store.OpenInitializedAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(
            "INSERT INTO subscriptions (tenant, id, doc, created_at, modified_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            connection);
        Bind(command, subscription);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) > 0;
    }

    /// <inheritdoc />
    public async Task<bool> UpdateAsync(StoredSubscription subscription, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(subscription);
        await using var connection = await _store.OpenInitializedAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(
            "UPDATE subscriptions SET doc = $3, modified_at = $5 WHERE tenant = $1 AND id = $2 AND $4::text IS NOT NULL",
            connection);
        Bind(command, subscription);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) > 0;
    }

    /// <inheritdoc />
    public async Task<bool> DeleteAsync(string tenant, string id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        ArgumentNullException.ThrowIfNull(id);
        await using var connection = await _store.OpenInitializedAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("DELETE FROM subscriptions WHERE tenant = $1 AND id = $2", connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = id });
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) > 0;
    }

    /// <inheritdoc />
    public async Task AddStatusAsync(string tenant, string id, DeliveryStatus delta, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        ArgumentNullException.ThrowIfNull(id);
        ArgumentNullException.ThrowIfNull(delta);
        await using var connection = await _store.OpenInitializedAsync(cancellationToken).ConfigureAwait(false);

        // One statement: nodes adding at once never lose each other's counts (GREATEST skips NULLs).
        await using var command = new NpgsqlCommand(
            """
            UPDATE subscriptions SET
                times_sent = times_sent + $3,
                times_failed = times_failed + $4,
                last_notification = GREATEST(last_notification, $5),
                last_success = GREATEST(last_success, $6),
                last_failure = GREATEST(last_failure, $7)
            WHERE tenant = $1 AND id = $2
            """,
            connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = id });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = delta.TimesSent });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = delta.TimesFailed });
        command.Parameters.Add(Time(delta.LastNotification));
        command.Parameters.Add(Time(delta.LastSuccess));
        command.Parameters.Add(Time(delta.LastFailure));
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<bool> ClaimPeriodicAsync(string tenant, string id, DateTimeOffset now, DateTimeOffset notAfter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        ArgumentNullException.ThrowIfNull(id);
        await using var connection = await _store.OpenInitializedAsync(cancellationToken).ConfigureAwait(false);

        // One conditional UPDATE: of two nodes claiming the same period, the row lock lets exactly one win.
        await using var command = new NpgsqlCommand(
            "UPDATE subscriptions SET last_periodic = $3 WHERE tenant = $1 AND id = $2 AND (last_periodic IS NULL OR last_periodic <= $4)",
            connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = id });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = Timestamps.Format(now) });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = Timestamps.Format(notAfter) });
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) > 0;
    }

    private static NpgsqlParameter Time(DateTimeOffset? time) =>
        new() { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text, Value = time is { } t ? Timestamps.Format(t) : DBNull.Value };

    private static void Bind(NpgsqlCommand command, StoredSubscription subscription)
    {
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = subscription.Tenant });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = subscription.Id });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = subscription.Document });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = subscription.CreatedAt.ToString("O", CultureInfo.InvariantCulture) });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = subscription.ModifiedAt.ToString("O", CultureInfo.InvariantCulture) });
    }
}
