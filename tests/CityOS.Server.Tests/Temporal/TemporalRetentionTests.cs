using System.Text.Json.Nodes;
using CityOS.Broker.Storage;
using CityOS.Broker.Temporal;
using CityOS.Storage.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace CityOS.Server.Tests.Temporal;

/// <summary>The retention purge over a real (SQLite) store with a controlled clock.</summary>
public sealed class TemporalRetentionTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Recorded = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "cityos-retention-" + Guid.NewGuid().ToString("N"));
    private SqliteTemporalStore _temporal = null!;

    // A property, not a field: disposed by DisposeAsync of the xUnit lifetime.
    private SqliteEntityStore Store { get; set; } = null!;

    public async Task InitializeAsync()
    {
        Store = new SqliteEntityStore(_directory);
        await Store.InitializeAsync(CancellationToken.None);
        _temporal = new SqliteTemporalStore(Store);
        foreach (var tenant in new[] { "", "keep", "short" })
        {
            await Store.WriteAsync(tenant, createTenant: true, async (s, ct) =>
            {
                var at = TemporalTime.ToMicros(Recorded);
                var instance = new JsonObject { ["type"] = "Property", ["value"] = 1 }.ToJsonString();
                await _temporal.AppendAsync(s, [], [new TemporalRow("urn:ngsi-ld:S:1", "https://example.org/t", null, at, at, at, null, 1, instance)], ct);
                return true;
            }, CancellationToken.None);
        }
    }

    public async Task DisposeAsync()
    {
        await Store.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    private async Task<int> CountAsync(string tenant) =>
        (await _temporal.GetInstancesAsync(tenant, "urn:ngsi-ld:S:1", "https://example.org/t", TemporalWindow.All, 10, false, CancellationToken.None)).Count;

    private TemporalRetention Retention(TemporalOptions options, DateTimeOffset now) =>
        new(Store, new FixedOptions(options), new FixedClock(now), NullLogger<TemporalRetention>.Instance, _temporal);

    [Fact]
    public async Task Instances_older_than_the_retention_go_and_tenant_overrides_win()
    {
        var options = new TemporalOptions { RetentionDays = 30, TenantRetentionDays = { ["keep"] = 0, ["short"] = 1 } };

        Assert.Equal(1, await Retention(options, Recorded.AddDays(2)).PurgeOnceAsync(CancellationToken.None));
        Assert.Equal((1, 1, 0), (await CountAsync(""), await CountAsync("keep"), await CountAsync("short")));

        Assert.Equal(1, await Retention(options, Recorded.AddDays(31)).PurgeOnceAsync(CancellationToken.None));
        Assert.Equal((0, 1), (await CountAsync(""), await CountAsync("keep")));
    }

    [Fact]
    public async Task Without_a_retention_nothing_is_purged()
    {
        Assert.Equal(0, await Retention(new TemporalOptions(), Recorded.AddYears(10)).PurgeOnceAsync(CancellationToken.None));
        Assert.Equal(1, await CountAsync(""));
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    private sealed class FixedOptions(TemporalOptions value) : IOptionsMonitor<TemporalOptions>
    {
        public TemporalOptions CurrentValue => value;

        public TemporalOptions Get(string? name) => value;

        public IDisposable? OnChange(Action<TemporalOptions, string?> listener) => null;
    }
}
