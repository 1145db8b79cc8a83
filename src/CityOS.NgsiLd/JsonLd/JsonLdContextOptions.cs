namespace CityOS.NgsiLd.JsonLd;

/// <summary>Settings of @context resolution, downloading and the /jsonldContexts registry.</summary>
public sealed class JsonLdContextOptions
{
    /// <summary>
    /// The broker's public base URL (scheme, host, port), used to build the local URL of hosted contexts,
    /// <c>{BaseUrl}/ngsi-ld/v1/jsonldContexts/{id}</c>, which the resolver answers without HTTP.
    /// </summary>
    public string BaseUrl { get; set; } = "http://localhost:1026";

    /// <summary>How long one remote @context download may take before LdContextNotAvailable.</summary>
    public TimeSpan FetchTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Largest remote @context document accepted, in bytes.</summary>
    public long MaxDocumentBytes { get; set; } = 1024 * 1024;

    /// <summary>How many downloaded documents the registry keeps (least recently used go first).</summary>
    public int DocumentCacheCapacity { get; set; } = 256;

    /// <summary>How many resolved contexts (by URL list or inline value) the resolver keeps.</summary>
    public int ResolvedContextCacheCapacity { get; set; } = 1024;

    /// <summary>How long a downloaded document stays fresh when its response carries no cache headers.</summary>
    public TimeSpan DefaultCacheDuration { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// Lower bound on freshness, so a server answering <c>max-age=0</c> is not hit on every request.
    /// </summary>
    public TimeSpan MinCacheDuration { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How deep remote contexts may reference further remote contexts.</summary>
    public int MaxNestingDepth { get; set; } = 4;
}
