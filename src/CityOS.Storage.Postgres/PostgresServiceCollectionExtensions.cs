using CityOS.Broker.Storage;
using CityOS.NgsiLd.JsonLd;
using CityOS.Storage.Postgres;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the PostgreSQL/PostGIS store.</summary>
public static class PostgresServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="PostgresEntityStore"/> over <paramref name="connectionString"/> as the
    /// <see cref="IEntityStore"/> and <see cref="PostgresHostedContextStore"/> (same database) as the
    /// <see cref="IHostedContextStore"/>, both singletons. Call <see cref="IEntityStore.InitializeAsync"/> at
    /// start-up to fail early with a clear message when the database is unreachable or lacks PostGIS.
    /// </summary>
    public static IServiceCollection AddPostgresStore(this IServiceCollection services, string connectionString)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        services.TryAddSingleton(_ => new PostgresEntityStore(connectionString));
        services.TryAddSingleton<IEntityStore>(sp => sp.GetRequiredService<PostgresEntityStore>());
        services.TryAddSingleton(sp => new PostgresHostedContextStore(sp.GetRequiredService<PostgresEntityStore>()));
        services.TryAddSingleton<IHostedContextStore>(sp => sp.GetRequiredService<PostgresHostedContextStore>());
        return services;
    }
}
