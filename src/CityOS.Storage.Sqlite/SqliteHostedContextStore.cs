using System.Globalization;
using CityOS.NgsiLd.JsonLd;
using CityOS.Storage.Sqlite.Internal;

namespace CityOS.Storage.Sqlite;

/// <summary>
/// Hosted @context documents in the same database as the entities (global, not per tenant). Writes go
/// through the store's single writer, so they are durable like entity writes.
/// </summary>
public sealed class SqliteHostedContextStore : IHostedContextStore
{
    private readonly SqliteEntityStore _store;

    /// <summary>Keeps documents in <paramref name="store"/>'s database; opens it on first use if needed.</summary>
    public SqliteHostedContextStore(SqliteEntityStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<StoredContextDocument>> ListAsync(CancellationToken cancellationToken) =>
        _store.ReadRawAsync<IReadOnlyList<StoredContextDocument>>(
            connection =>
            {
                var documents = new List<StoredContextDocument>();
                using var reader = connection.Command("SELECT id, kind, body, created_at FROM contexts ORDER BY created_at, id").ExecuteReader();
                while (reader.Read())
                {
                    documents.Add(Read(reader));
                }

                return documents;
            },
            cancellationToken);

    /// <inheritdoc />
    public Task<StoredContextDocument?> GetAsync(string id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(id);
        return _store.ReadRawAsync(
            connection =>
            {
                var command = connection.Command("SELECT id, kind, body, created_at FROM contexts WHERE id = $id");
                command.Parameters.AddWithValue("$id", id);
                using var reader = command.ExecuteReader();
                return reader.Read() ? Read(reader) : null;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task PutAsync(StoredContextDocument document, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(document);
        return _store.WriteRawAsync(
            connection =>
            {
                connection.PutContext(document);
                return true;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<bool> DeleteAsync(string id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(id);
        return _store.WriteRawAsync(connection => connection.DeleteContext(id), cancellationToken);
    }

    private static StoredContextDocument Read(Microsoft.Data.Sqlite.SqliteDataReader reader) => new(
        reader.GetString(0),
        reader.GetString(1),
        reader.GetString(2),
        DateTimeOffset.Parse(reader.GetString(3), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind));
}
