using CityOS.Broker.ComplianceTests;
using CityOS.Broker.Storage;
using CityOS.Broker.Subscriptions;
using CityOS.NgsiLd.JsonLd;

namespace CityOS.Storage.Sqlite.Tests;

/// <summary>The storage compliance suite against a file-based SQLite store in a temp directory.</summary>
public sealed class SqliteEntityStoreTests : EntityStoreCompliance
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "cityos-sqlite-" + Guid.NewGuid().ToString("N"));

    protected override Task<IEntityStore> CreateStoreAsync() => Task.FromResult<IEntityStore>(new SqliteEntityStore(_directory));

    protected override Task<IEntityStore> ReopenStoreAsync() => CreateStoreAsync();

    protected override IHostedContextStore HostedContextsOf(IEntityStore store) => new SqliteHostedContextStore((SqliteEntityStore)store);

    protected override ISubscriptionStore SubscriptionsOf(IEntityStore store) => new SqliteSubscriptionStore((SqliteEntityStore)store);
    protected override ITemporalStore TemporalOf(IEntityStore store) => new SqliteTemporalStore((SqliteEntityStore)store);

    protected override Task DeleteStorageAsync()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }

        return Task.CompletedTask;
    }
}
