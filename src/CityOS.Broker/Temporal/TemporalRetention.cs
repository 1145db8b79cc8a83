using CityOS.Broker.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CityOS.Broker.Temporal;

/// <summary>
/// The retention purge: every PurgeIntervalMinutes, deletes from each tenant the instances recorded longer ago than
/// its retention, in short transactions of <see cref="ChunkSize"/> rows so that writers are never held back long.
/// </summary>
public sealed partial class TemporalRetention : BackgroundService
{
    internal const int ChunkSize = 5000;

    private readonly IEntityStore _entities;
    private readonly ITemporalStore? _store;
    private readonly IOptionsMonitor<TemporalOptions> _options;
    private readonly TimeProvider _time;
    private readonly ILogger<TemporalRetention> _logger;

    /// <summary>The purge over <paramref name="entities"/> and, when the backend keeps one, its temporal store.</summary>
    public TemporalRetention(IEntityStore entities, IOptionsMonitor<TemporalOptions> options, TimeProvider time, ILogger<TemporalRetention> logger, ITemporalStore? store = null)
    {
        _entities = entities;
        _store = store;
        _options = options;
        _time = time;
        _logger = logger;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_store is null)
        {
            return;
        }

        // The first purge waits a minute: start-up (migrations, loading) goes first.
        var delay = TimeSpan.FromMinutes(Math.Min(1, _options.CurrentValue.PurgeIntervalMinutes));
        while (!stoppingToken.IsCancellationRequested)
        {
            await Task.Delay(delay, _time, stoppingToken).ConfigureAwait(false);
            delay = TimeSpan.FromMinutes(_options.CurrentValue.PurgeIntervalMinutes);
            try
            {
                await PurgeOnceAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogPurgeFailed(_logger, ex);
            }
        }
    }

    /// <summary>One purge over every tenant with a retention; returns how many instances went.</summary>
    public async Task<long> PurgeOnceAsync(CancellationToken cancellationToken)
    {
        if (_store is null)
        {
            return 0;
        }

        var options = _options.CurrentValue;
        if (options.RetentionDays <= 0 && !options.TenantRetentionDays.Values.Any(d => d > 0))
        {
            // History is kept for ever: nothing to look at.
            return 0;
        }

        long total = 0;
        foreach (var tenant in await _entities.ListTenantsAsync(cancellationToken).ConfigureAwait(false))
        {
            var days = options.TenantRetentionDays.TryGetValue(tenant, out var own) ? own : options.RetentionDays;
            if (days <= 0)
            {
                continue;
            }

            var cutoff = TemporalTime.ToMicros(_time.GetUtcNow() - TimeSpan.FromDays(days));
            int purged;
            do
            {
                purged = await _entities.WriteAsync(tenant, createTenant: false, (s, ct) => _store.PurgeAsync(s, cutoff, ChunkSize, ct), cancellationToken).ConfigureAwait(false);
                total += purged;
            }
            while (purged == ChunkSize);
        }

        if (total > 0)
        {
            LogPurged(_logger, total);
        }

        return total;
    }

    [LoggerMessage(EventId = 4101, Level = LogLevel.Information, Message = "Temporal retention purged {Count} attribute instances")]
    private static partial void LogPurged(ILogger logger, long count);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Warning, Message = "Temporal retention purge failed; it runs again at the next interval")]
    private static partial void LogPurgeFailed(ILogger logger, Exception exception);
}
