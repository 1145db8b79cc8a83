using System.ComponentModel.DataAnnotations;

namespace CityOS.Broker.Temporal;

/// <summary>Attribute history settings, section "CityOS:Temporal" (env CITYOS__TEMPORAL__*).</summary>
public sealed class TemporalOptions
{
    public const string Section = "CityOS:Temporal";

    /// <summary>Record the history of every entity write (false: the temporal API serves only what is provisioned).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Days an attribute instance is kept after it was recorded; 0 keeps history for ever.</summary>
    [Range(0, 365_000)]
    public int RetentionDays { get; set; }

    /// <summary>Per-tenant retention in days, overriding <see cref="RetentionDays"/> (key: tenant name; "" cannot be a key, use RetentionDays).</summary>
    public Dictionary<string, int> TenantRetentionDays { get; set; } = new(StringComparer.Ordinal);

    /// <summary>How often the retention purge runs, in minutes.</summary>
    [Range(1, 10_080)]
    public int PurgeIntervalMinutes { get; set; } = 60;

    /// <summary>
    /// Most instances of one attribute in one temporal response; a longer history is answered 206 with a
    /// Content-Range telling the time range returned (the client continues from there).
    /// </summary>
    [Range(1, 1_000_000)]
    public int MaxInstancesPerAttribute { get; set; } = 10_000;
}
