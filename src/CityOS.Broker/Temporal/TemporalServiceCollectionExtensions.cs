using CityOS.Broker.Changes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace CityOS.Broker.Temporal;

/// <summary>Registers the attribute history (recorder, temporal service, retention purge).</summary>
public static class TemporalServiceCollectionExtensions
{
    /// <summary>
    /// Adds the history recorder as an entity change observer, the temporal service behind /temporal, and the retention
    /// purge. The storage backend provides the ITemporalStore; without one the recorder and purge do nothing. Bind
    /// <see cref="TemporalOptions"/> from configuration separately (defaults otherwise).
    /// </summary>
    public static IServiceCollection AddTemporalHistory(this IServiceCollection services)
    {
        services.AddOptions<TemporalOptions>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IEntityChangeObserver, HistoryRecorder>());
        services.TryAddSingleton<TemporalService>();
        services.AddHostedService<TemporalRetention>();
        return services;
    }
}
