using System.Text.Json.Nodes;
using Npgsql;

namespace CityOS.Storage.Postgres.Tests;

/// <summary>
/// What the PostgreSQL-specific test classes share: each test gets a fresh schema of the test server and an
/// initialized store over it, and builds entities in the internal form with <see cref="Entity(string, string[], ValueTuple{string, JsonNode}[])"/>.
/// </summary>
public abstract class PostgresStoreTest : IAsyncLifetime
{
    protected const string Location = "https://uri.etsi.org/ngsi-ld/location";

    protected static readonly CancellationToken None = CancellationToken.None;

    private protected TestDatabase Database { get; } = new();

    private protected PostgresEntityStore Store { get; set; } = null!;

    public async Task InitializeAsync()
    {
        await Database.CreateAsync();
        Store = new PostgresEntityStore(Database.ConnectionString);
        await Store.InitializeAsync(None);
    }

    public async Task DisposeAsync()
    {
        await Store.DisposeAsync();
        NpgsqlConnection.ClearAllPools();
        await Database.DropAsync();
    }

    /// <summary>An entity of one type with a Property per (attribute IRI, value).</summary>
    protected static JsonObject Entity(string id, string type, params (string Attribute, JsonNode? Value)[] properties) =>
        Entity(id, [type], properties);

    /// <summary>An entity of several types with a Property per (attribute IRI, value).</summary>
    protected static JsonObject Entity(string id, string[] types, params (string Attribute, JsonNode? Value)[] properties)
    {
        var entity = new JsonObject
        {
            ["id"] = id,
            ["type"] = new JsonArray([.. types.Select(t => (JsonNode?)JsonValue.Create(t))]),
            ["createdAt"] = "2026-11-23T10:00:00.000000Z",
            ["modifiedAt"] = "2026-11-23T10:00:00.000000Z",
        };
        foreach (var (attribute, value) in properties)
        {
            entity[attribute] = new JsonArray(new JsonObject { ["type"] = "Property", ["value"] = value });
        }

        return entity;
    }
}
