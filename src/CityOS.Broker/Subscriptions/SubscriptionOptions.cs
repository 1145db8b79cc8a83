using System.ComponentModel.DataAnnotations;

namespace CityOS.Broker.Subscriptions;

/// <summary>Notification delivery settings, section "CityOS:Subscriptions" (env CITYOS__SUBSCRIPTIONS__*).</summary>
public sealed class SubscriptionOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "CityOS:Subscriptions";

    /// <summary>Notifications waiting per subscription; more are dropped and counted.</summary>
    [Range(1, 1_000_000)]
    public int QueueCapacity { get; set; } = 1000;

    /// <summary>Committed writes waiting to be matched against subscriptions; more are dropped and counted.</summary>
    [Range(1, 10_000_000)]
    public int ChangeQueueCapacity { get; set; } = 100_000;

    /// <summary>Attempts per notification (1 = no retry).</summary>
    [Range(1, 20)]
    public int MaxAttempts { get; set; } = 3;

    /// <summary>Delay before the first retry, in milliseconds; doubled for each further one.</summary>
    [Range(1, 600_000)]
    public int RetryDelayMs { get; set; } = 500;

    /// <summary>Time an endpoint has to answer, in milliseconds, unless its own endpoint.timeout says otherwise.</summary>
    [Range(1, 600_000)]
    public int TimeoutMs { get; set; } = 10_000;

    /// <summary>Notifications in flight at once over all subscriptions.</summary>
    [Range(1, 100_000)]
    public int MaxConcurrentSends { get; set; } = 256;

    /// <summary>How often the delivery counters are written to the store, in milliseconds.</summary>
    [Range(10, 3_600_000)]
    public int StatusFlushMs { get; set; } = 2000;
}
