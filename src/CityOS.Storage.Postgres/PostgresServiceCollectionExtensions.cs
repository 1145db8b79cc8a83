using CityOS.Broker.Cluster;
using CityOS.Broker.Storage;
using CityOS.Broker.Subscriptions;
using CityOS.NgsiLd.JsonLd;
using CityOS.Storage.Postgres;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the PostgreSQL/PostGIS store.</summary>
public static class PostgresServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="PostgresEntityStore"/> over <paramref name="connectionString"/> as the
    /// <see cref="IEntityStore"/> and <see cref="PostgresHostedContextStore"/> (same database) as the
    /// <see cref="IHostedContextStore"/> and <see cref="PostgresTemporalStore"/> as the <see cref="ITemporalStore"/>, all singletons. Call <see cref="IEntityStore.InitializeAsync"/> at
    /// start-up to fail early with a clear message when the database is unreachable or lacks PostGIS. Nodes on the
    /// same database and schema hear each other's changes through <see cref="PostgresClusterEvents"/>, which
    /// replaces any other <see cref="IClusterEvents"/>.
    /// </summary>
    public static IServiceCollection AddPostgresStore(this IServiceCollection services, string connectionString)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        services.TryAddSingleton(_ => new PostgresEntityStore(connectionString));
        services.TryAddSingleton<IEntityStore>(sp => sp.GetRequiredService<PostgresEntityStore>());
        services.TryAddSingleton(sp => new PostgresHostedContextStore(sp.GetRequiredService<PostgresEntityStore>()));
        services.TryAddSingleton<IHostedContextStore>(sp => sp.GetRequiredService<PostgresHostedContextStore>());
        services.TryAddSingleton<ISubscriptionStore>(sp => new PostgresSubscriptionStore(sp.GetRequiredService<PostgresEntityStore>()));
        services.TryAddSingleton(sp => new PostgresTemporalStore(sp.GetRequiredService<PostgresEntityStore>()));
        services.TryAddSingleton<ITemporalStore>(sp => sp.GetRequiredService<PostgresTemporalStore>());
        services.Replace(ServiceDescriptor.Singleton<IClusterEvents>(sp => new PostgresClusterEvents(
            connectionString,
            sp.GetRequiredService<PostgresEntityStore>(),
            sp.GetService<ILogger<PostgresClusterEvents>>(),
            sp.GetService<TimeProvider>())));
        return services;
    }
}
