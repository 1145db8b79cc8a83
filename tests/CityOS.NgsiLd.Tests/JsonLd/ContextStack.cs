using CityOS.NgsiLd.JsonLd;

namespace CityOS.NgsiLd.Tests.JsonLd;

/// <summary>Downloader, registry and resolver wired together as the server does, over a given HTTP handler.</summary>
internal sealed class ContextStack : IDisposable
{
    public ContextStack(HttpMessageHandler? handler = null, Action<JsonLdContextOptions>? configure = null, TimeProvider? timeProvider = null, InMemoryHostedContextStore? store = null)
    {
        Options = new JsonLdContextOptions { BaseUrl = "http://broker.test:1026", FetchTimeout = TimeSpan.FromSeconds(5) };
        configure?.Invoke(Options);
        Http = handler is null ? new HttpClient() : new HttpClient(handler);
        Store = store ?? new InMemoryHostedContextStore();
        Registry = new ContextRegistry(Store, new ContextDownloader(Http, Options), Options, timeProvider);
        Resolver = new ContextResolver(Registry, Options, timeProvider);
    }

    public JsonLdContextOptions Options { get; }

    public HttpClient Http { get; }

    public InMemoryHostedContextStore Store { get; }

    public ContextRegistry Registry { get; }

    public ContextResolver Resolver { get; }

    public void Dispose() => Http.Dispose();
}
