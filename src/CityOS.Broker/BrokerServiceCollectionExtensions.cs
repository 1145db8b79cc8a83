using CityOS.Broker.Storage;
using CityOS.NgsiLd.JsonLd;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace CityOS.Broker;

/// <summary>Registers the broker engine. A storage backend (e.g. AddSqliteStore) must be registered too.</summary>
public static class BrokerServiceCollectionExtensions
{
    /// <summary>Adds the entity service, @context resolution and registry, and start-up initialisation of the store.</summary>
    public static IServiceCollection AddNgsiLdBroker(this IServiceCollection services, string publicBaseUrl)
    {
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<EntityService>();
        services.AddSingleton(sp => new JsonLdContextOptions
        {
            BaseUrl = publicBaseUrl,
            FetchTimeout = TimeSpan.FromMilliseconds(sp.GetRequiredService<IOptions<BrokerOptions>>().Value.ContextFetchTimeoutMs),
        });
        services.AddHttpClient(ContextHttpClient)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { AllowAutoRedirect = true, MaxAutomaticRedirections = 3 });
        services.AddSingleton(sp => new ContextDownloader(
            sp.GetRequiredService<IHttpClientFactory>().CreateClient(ContextHttpClient),
            sp.GetRequiredService<JsonLdContextOptions>()));
        services.AddSingleton(sp => new ContextRegistry(
            sp.GetRequiredService<IHostedContextStore>(),
            sp.GetRequiredService<ContextDownloader>(),
            sp.GetRequiredService<JsonLdContextOptions>(),
            sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<IContextResolver>(sp => new ContextResolver(
            sp.GetRequiredService<ContextRegistry>(),
            sp.GetRequiredService<JsonLdContextOptions>(),
            sp.GetRequiredService<TimeProvider>()));
        services.AddHostedService<BrokerStartup>();
        return services;
    }

    private const string ContextHttpClient = "cityos-jsonld-contexts";

    /// <summary>Creates or migrates the store and loads hosted contexts before the server takes requests.</summary>
    private sealed class BrokerStartup(IEntityStore store, ContextRegistry registry) : IHostedService
    {
        public async Task StartAsync(CancellationToken cancellationToken)
        {
            await store.InitializeAsync(cancellationToken);
            await registry.LoadAsync(cancellationToken);
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
