using System.ComponentModel.DataAnnotations;

namespace CityOS.Server;

/// <summary>Top-level server settings, section "CityOS" (env CITYOS__*).</summary>
public sealed class CityOSOptions
{
    public const string Section = "CityOS";

    /// <summary>Where the embedded store keeps its files.</summary>
    [Required]
    public string DataDirectory { get; set; } = "./data";

    /// <summary>Storage backend: "sqlite" (embedded default).</summary>
    [Required]
    [RegularExpression("^(sqlite)$", ErrorMessage = "The store must be 'sqlite'.")]
    public string Store { get; set; } = "sqlite";
}
