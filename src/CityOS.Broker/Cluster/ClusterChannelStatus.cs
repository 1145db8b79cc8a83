namespace CityOS.Broker.Cluster;

/// <summary>The state of a node's <see cref="IClusterEvents"/> channel, for /health.</summary>
/// <param name="Transport">What carries the events: <see cref="InProcessTransport"/> or <see cref="PostgresListenTransport"/>.</param>
/// <param name="Connected">
/// Whether the node receives other nodes' events now. While false its caches may miss changes made elsewhere
/// (they reload on reconnection), so the node still serves but is degraded.
/// </param>
/// <param name="Since">When the channel entered its current state, connected or not; null before the first attempt.</param>
/// <param name="Reconnects">How many times the channel was re-established after being lost since the node started.</param>
public sealed record ClusterChannelStatus(string Transport, bool Connected, DateTimeOffset? Since, int Reconnects)
{
    /// <summary>Events stay inside one process (a single node on SQLite).</summary>
    public const string InProcessTransport = "in-process";

    /// <summary>Events travel through a PostgreSQL LISTEN connection.</summary>
    public const string PostgresListenTransport = "postgres-listen";
}
