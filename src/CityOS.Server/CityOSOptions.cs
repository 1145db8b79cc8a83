using System.ComponentModel.DataAnnotations;

namespace CityOS.Server;

/// <summary>Top-level server settings, section "CityOS" (env CITYOS__*).</summary>
public sealed class CityOSOptions
{
    public const string Section = "CityOS";

    /// <summary>Where the embedded store keeps its files.</summary>
    [Required]
    public string DataDirectory { get; set; } = "./data";

    /// <summary>Storage backend: "sqlite" (embedded default) or "postgres" (shared, needs <see cref="ConnectionString"/>).</summary>
    [Required]
    [RegularExpression("^(sqlite|postgres)$", ErrorMessage = "The store must be 'sqlite' or 'postgres'.")]
    public string Store { get; set; } = "sqlite";

    /// <summary>The PostgreSQL connection string (Npgsql syntax) of the "postgres" store.</summary>
    public string? ConnectionString { get; set; }
}
