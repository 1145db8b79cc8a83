using System.Text.Json.Nodes;
using BenchmarkDotNet.Attributes;
using CityOS.Broker;
using CityOS.Broker.Changes;
using CityOS.Broker.Storage;
using CityOS.Broker.Temporal;
using CityOS.Storage.Sqlite;

namespace CityOS.Benchmarks;

/// <summary>
/// What recording the history adds to an entity update, in process on the SQLite store (no HTTP): 100 Partial-update
/// transactions of one attribute, with no observer, with an observer that does nothing (the change-recording cost
/// every observer brings), with the diff alone (which rows, compact JSON) and with history recording (diff, key lookup
/// and insert).
/// Run: <c>dotnet run -c Release --project bench/CityOS.Benchmarks -- --filter *HistoryBenchmarks* --job short</c>
/// </summary>
[MemoryDiagnoser]
public class HistoryBenchmarks
{
    private const string Speed = "https://example.org/speed";
    private const string Name = "https://example.org/name";
    private const int Entities = 1000;
    private const int UpdatesPerInvocation = 100;

    private string _directory = "";
    private EntityService _service = null!;
    private long _sequence;

    // A property: disposed in GlobalCleanup (BenchmarkDotNet's lifetime), not by IDisposable.
    private SqliteEntityStore Store { get; set; } = null!;

    /// <summary>none: no observer; noop: an observer that records nothing; history: the history recorder's work.</summary>
    [Params("none", "diff", "history")]
    public string Observers { get; set; } = "none";

    [GlobalSetup]
    public async Task SetupAsync()
    {
        _directory = Path.Combine(Path.GetTempPath(), "cityos-historybench-" + Guid.NewGuid().ToString("N"));
        Store = new SqliteEntityStore(_directory);
        await Store.InitializeAsync(CancellationToken.None);
        IEntityChangeObserver[] observers = Observers switch
        {
            "noop" => [new NoopObserver()],
            "diff" => [new HistoryObserver(null)],
            "history" => [new HistoryObserver(new SqliteTemporalStore(Store))],
            _ => [],
        };
        _service = new EntityService(Store, TimeProvider.System, observers);
        for (var i = 0; i < Entities; i++)
        {
            var entity = new JsonObject
            {
                ["id"] = $"urn:ngsi-ld:Car:{i}",
                ["type"] = new JsonArray("https://example.org/Car"),
                [Speed] = new JsonArray(new JsonObject { ["type"] = "Property", ["value"] = 0, ["observedAt"] = "2026-01-01T00:00:00Z" }),
                [Name] = new JsonArray(new JsonObject { ["type"] = "Property", ["value"] = "car " + i }),
            };
            await _service.CreateAsync("", entity, CancellationToken.None);
        }
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await Store.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>Updates in flight at once: 1 (each its own commit) or 32 (the writer groups them, as under HTTP load).</summary>
    [Params(1, 32)]
    public int InFlight { get; set; } = 1;

    [Benchmark(OperationsPerInvoke = UpdatesPerInvocation)]
    public async Task UpdateOneAttribute()
    {
        var workers = new Task[InFlight];
        for (var w = 0; w < InFlight; w++)
        {
            workers[w] = WorkAsync(UpdatesPerInvocation / InFlight + (w < UpdatesPerInvocation % InFlight ? 1 : 0));
        }

        await Task.WhenAll(workers);
    }

    private async Task WorkAsync(int updates)
    {
        for (var i = 0; i < updates; i++)
        {
            var n = Interlocked.Increment(ref _sequence);
            var fragment = new JsonObject
            {
                [Speed] = new JsonArray(new JsonObject { ["type"] = "Property", ["value"] = n % 130, ["observedAt"] = "2026-01-02T00:00:00Z" }),
            };
            await _service.UpdateAttributesAsync("", $"urn:ngsi-ld:Car:{n % Entities}", fragment, CancellationToken.None);
        }
    }

    private sealed class NoopObserver : IEntityChangeObserver
    {
        public ValueTask OnWriteAsync(string tenant, IEntityWriteSession session, IReadOnlyList<EntityChange> changes, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public void OnCommitted(string tenant, IReadOnlyList<EntityChange> changes)
        {
        }
    }

    // The broker's recorder without its options (it is internal to the broker).
    private sealed class HistoryObserver(ITemporalStore? temporal) : IEntityChangeObserver
    {
        public async ValueTask OnWriteAsync(string tenant, IEntityWriteSession session, IReadOnlyList<EntityChange> changes, CancellationToken cancellationToken)
        {
            var rows = new List<TemporalRow>();
            var types = new List<TemporalEntityTypes>();
            foreach (var change in changes)
            {
                HistoryDiff.Collect(change, rows, types);
            }

            if (temporal is not null)
            {
                await temporal.AppendAsync(session, types, rows, cancellationToken);
            }
        }

        public void OnCommitted(string tenant, IReadOnlyList<EntityChange> changes)
        {
        }
    }
}
