using System.ComponentModel.DataAnnotations;

namespace CityOS.Broker;

/// <summary>Broker settings, section "CityOS:Broker" (env CITYOS__BROKER__*).</summary>
public sealed class BrokerOptions
{
    public const string Section = "CityOS:Broker";

    /// <summary>Page size when a query gives no limit.</summary>
    [Range(1, 10_000)]
    public int DefaultPageSize { get; set; } = 20;

    /// <summary>Largest limit a query may ask for; above it the answer is 403 TooManyResults.</summary>
    [Range(1, 100_000)]
    public int MaxPageSize { get; set; } = 1000;

    /// <summary>Largest accepted request body, in bytes (413 above).</summary>
    [Range(1024, 1L << 30)]
    public long MaxBodyBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>Deepest JSON nesting accepted in a body (400 above).</summary>
    [Range(4, 1000)]
    public int MaxJsonDepth { get; set; } = 64;

    /// <summary>
    /// Most attributes one entity (or update fragment) may carry (400 above). Each attribute costs the broker
    /// a few kilobytes while it is parsed and stored, so without a bound a body of tiny attributes within
    /// MaxBodyBytes could take gigabytes of memory.
    /// </summary>
    [Range(1, 1_000_000)]
    public int MaxAttributesPerEntity { get; set; } = 10_000;

    /// <summary>Largest number of entities in one batch operation.</summary>
    [Range(1, 1_000_000)]
    public int MaxBatchSize { get; set; } = 10_000;

    /// <summary>Timeout for fetching a remote @context, in milliseconds.</summary>
    [Range(100, 600_000)]
    public int ContextFetchTimeoutMs { get; set; } = 5000;
}
