using CityOS.Broker.Storage;
using CityOS.Broker.Subscriptions;
using CityOS.NgsiLd.JsonLd;
using CityOS.Storage.Sqlite;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the embedded SQLite store.</summary>
public static class SqliteServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="SqliteEntityStore"/> over <c>{dataDirectory}/cityos.db</c> as the
    /// <see cref="IEntityStore"/> and <see cref="SqliteHostedContextStore"/> (same database) as the
    /// <see cref="IHostedContextStore"/>, <see cref="SqliteSubscriptionStore"/> as the <see cref="ISubscriptionStore"/> and
    /// <see cref="SqliteTemporalStore"/> as the <see cref="ITemporalStore"/>, all singletons. The container disposes the store, which stops
    /// the writer after committing queued work. Call <see cref="IEntityStore.InitializeAsync"/> at start-up
    /// to fail early; otherwise the database is opened on first use.
    /// </summary>
    public static IServiceCollection AddSqliteStore(this IServiceCollection services, string dataDirectory)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(dataDirectory);
        services.TryAddSingleton(sp => new SqliteEntityStore(dataDirectory, sp.GetService<ILogger<SqliteEntityStore>>()));
        services.TryAddSingleton<IEntityStore>(sp => sp.GetRequiredService<SqliteEntityStore>());
        services.TryAddSingleton(sp => new SqliteHostedContextStore(sp.GetRequiredService<SqliteEntityStore>()));
        services.TryAddSingleton<IHostedContextStore>(sp => sp.GetRequiredService<SqliteHostedContextStore>());
        services.TryAddSingleton<ISubscriptionStore>(sp => new SqliteSubscriptionStore(sp.GetRequiredService<SqliteEntityStore>()));
        services.TryAddSingleton(sp => new SqliteTemporalStore(sp.GetRequiredService<SqliteEntityStore>()));
        services.TryAddSingleton<ITemporalStore>(sp => sp.GetRequiredService<SqliteTemporalStore>());
        return services;
    }
}
