using CityOS.Broker.Changes;
using CityOS.Broker.Cluster;
using CityOS.Broker.Storage;
using CityOS.Broker.Subscriptions;
using CityOS.Broker.Temporal;
using CityOS.NgsiLd.JsonLd;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
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

        // A multi-node store (PostgreSQL) registers its own channel; otherwise this node is the whole cluster.
        services.TryAddSingleton<IClusterEvents, InProcessClusterEvents>();
        services.AddSingleton<EntityService>();
        AddSubscriptions(services);
        services.AddTemporalHistory();
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
            HostedContextSync.Store(sp.GetRequiredService<IHostedContextStore>(), sp.GetRequiredService<IClusterEvents>()),
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

    /// <summary>
    /// Subscriptions: the registry every node keeps, the notifier (a change observer of the entity service) and
    /// its HttpClient, and the subscription operations. The store must register an <see cref="ISubscriptionStore"/>.
    /// </summary>
    private static void AddSubscriptions(IServiceCollection services)
    {
        services.AddOptions<SubscriptionOptions>().BindConfiguration(SubscriptionOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<SubscriptionRegistry>();
        services.AddSingleton<SubscriptionNotifier>();
        services.AddSingleton<IEntityChangeObserver>(sp => sp.GetRequiredService<SubscriptionNotifier>());
        services.AddSingleton<SubscriptionService>();

        // Timeouts are per endpoint (the notifier's own token), redirects are not followed: a notification is a POST.
        services.AddHttpClient(SubscriptionNotifier.HttpClientName, c => c.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { AllowAutoRedirect = false, PooledConnectionLifetime = TimeSpan.FromMinutes(2) });
    }

    /// <summary>
    /// Creates or migrates the store and loads hosted contexts before the server takes requests, then follows
    /// other nodes' changes to them.
    /// </summary>
    private sealed class BrokerStartup(
        IEntityStore store,
        ContextRegistry registry,
        IClusterEvents events,
        SubscriptionRegistry subscriptions,
        SubscriptionNotifier notifier) : IHostedService, IDisposable
    {
        private IDisposable? _following;
        private IDisposable? _followingSubscriptions;

        public async Task StartAsync(CancellationToken cancellationToken)
        {
            await store.InitializeAsync(cancellationToken);

            // Listening before loading: a change made between the two is then heard, not lost.
            _following = HostedContextSync.Follow(events, registry);
            _followingSubscriptions = subscriptions.Follow(events);
            await events.StartAsync(cancellationToken);
            await registry.LoadAsync(cancellationToken);

            // After the contexts: a subscription's @context may be one of them.
            await subscriptions.LoadAsync(cancellationToken);
            notifier.Start();
        }

        public Task StopAsync(CancellationToken cancellationToken)
        {
            Dispose();
            return Task.CompletedTask;
        }

        public void Dispose()
        {
            _following?.Dispose();
            _following = null;
            _followingSubscriptions?.Dispose();
            _followingSubscriptions = null;
        }
    }
}
