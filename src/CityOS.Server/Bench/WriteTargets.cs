namespace CityOS.Server.Bench;

/// <summary>
/// The write throughput each storage backend is held to on the reference machine (2 cores shared by server, store
/// and load generator). The embedded SQLite store writes in the server's own process; PostgreSQL pays a network
/// round trip and its own server processes per transaction, so its issue set half the SQLite figures.
/// </summary>
internal sealed record WriteTargets(double Create, double Update, double BatchEntities)
{
    /// <summary>The targets for the store a server names in /version; SQLite's when unknown.</summary>
    public static WriteTargets For(string? store) => store switch
    {
        "postgres" => new WriteTargets(4_000, 4_000, 30_000),
        _ => new WriteTargets(8_000, 8_000, 60_000),
    };
}
