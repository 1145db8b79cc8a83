using CityOS.Broker.Changes;
using CityOS.Broker.Storage;
using Microsoft.Extensions.Options;

namespace CityOS.Broker.Temporal;

/// <summary>
/// Keeps the attribute history: inside every write transaction it turns the changes into history rows
/// (<see cref="HistoryDiff"/>) and appends them through the store's session, so the history commits, or rolls back,
/// with the entities. One append per transaction (a batch of n entities costs one statement, not n).
/// </summary>
internal sealed class HistoryRecorder : IEntityChangeObserver
{
    private readonly ITemporalStore? _store;
    private readonly IOptionsMonitor<TemporalOptions> _options;

    public HistoryRecorder(IOptionsMonitor<TemporalOptions> options, ITemporalStore? store = null)
    {
        _options = options;
        _store = store;
    }

    public ValueTask OnWriteAsync(string tenant, IEntityWriteSession session, IReadOnlyList<EntityChange> changes, CancellationToken cancellationToken)
    {
        if (_store is null || !_options.CurrentValue.Enabled)
        {
            return ValueTask.CompletedTask;
        }

        var rows = new List<TemporalRow>();
        var types = new List<TemporalEntityTypes>();
        foreach (var change in changes)
        {
            HistoryDiff.Collect(change, rows, types);
        }

        return rows.Count == 0 && types.Count == 0 ? ValueTask.CompletedTask : _store.AppendAsync(session, types, rows, cancellationToken);
    }

    public void OnCommitted(string tenant, IReadOnlyList<EntityChange> changes)
    {
        // Nothing to do after the commit: the history was written with the entities.
    }
}
