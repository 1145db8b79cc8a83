using System.Globalization;
using CityOS.NgsiLd.JsonLd;
using Npgsql;

namespace CityOS.Storage.Postgres;

/// <summary>Hosted @context documents in the same database as the entities (global, not per tenant).</summary>
public sealed class PostgresHostedContextStore : IHostedContextStore
{
    private readonly PostgresEntityStore _store;

    /// <summary>Keeps documents in <paramref name="store"/>'s database; initializes it on first use if needed.</summary>
    public PostgresHostedContextStore(PostgresEntityStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<StoredContextDocument>> ListAsync(CancellationToken cancellationToken)
    {
        var documents = new List<StoredContextDocument>();
        await using var connection = await _store.OpenInitializedAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("SELECT id, kind, body, created_at FROM contexts ORDER BY created_at, id", connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            documents.Add(Read(reader));
        }

        return documents;
    }

    /// <inheritdoc />
    public async Task<StoredContextDocument?> GetAsync(string id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(id);
        await using var connection = await _store.OpenInitializedAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("SELECT id, kind, body, created_at FROM contexts WHERE id = $1", connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = id });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? Read(reader) : null;
    }

    /// <inheritdoc />
    public async Task PutAsync(StoredContextDocument document, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(document);
        await using var connection = await _store.OpenInitializedAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(
            """
            INSERT INTO contexts (id, kind, body, created_at) VALUES ($1, $2, $3, $4)
            ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, body = excluded.body, created_at = excluded.created_at
            """,
            connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = document.Id });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = document.Kind });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = document.Body });
        // Round-trip text, as the SQLite store keeps it: timestamptz would drop the offset and sub-microsecond ticks.
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = document.CreatedAt.ToString("O", CultureInfo.InvariantCulture) });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<bool> DeleteAsync(string id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(id);
        await using var connection = await _store.OpenInitializedAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("DELETE FROM contexts WHERE id = $1", connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = id });
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) > 0;
    }

    private static StoredContextDocument Read(NpgsqlDataReader reader) => new(
        reader.GetString(0),
        reader.GetString(1),
        reader.GetString(2),
        DateTimeOffset.Parse(reader.GetString(3), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind));
}
