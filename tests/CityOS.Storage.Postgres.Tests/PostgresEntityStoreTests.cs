using CityOS.Broker.ComplianceTests;
using CityOS.Broker.Storage;
using CityOS.Broker.Subscriptions;
using CityOS.NgsiLd.JsonLd;

namespace CityOS.Storage.Postgres.Tests;

/// <summary>The storage compliance suite against PostgreSQL, each test in a fresh schema of the test server.</summary>
public sealed class PostgresEntityStoreTests : EntityStoreCompliance
{
    private readonly TestDatabase _database = new();

    protected override async Task<IEntityStore> CreateStoreAsync()
    {
        await _database.CreateAsync();
        return new PostgresEntityStore(_database.ConnectionString);
    }

    protected override Task<IEntityStore> ReopenStoreAsync() => Task.FromResult<IEntityStore>(new PostgresEntityStore(_database.ConnectionString));

    protected override IHostedContextStore HostedContextsOf(IEntityStore store) => new PostgresHostedContextStore((PostgresEntityStore)store);

    protected override ISubscriptionStore SubscriptionsOf(IEntityStore store) => new PostgresSubscriptionStore((PostgresEntityStore)store);
    protected override ITemporalStore TemporalOf(IEntityStore store) => new PostgresTemporalStore((PostgresEntityStore)store);

    protected override Task DeleteStorageAsync() => _database.DropAsync();
}
