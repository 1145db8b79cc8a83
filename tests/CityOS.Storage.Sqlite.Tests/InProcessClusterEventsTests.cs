using System.Threading.Channels;
using CityOS.Broker.Cluster;

namespace CityOS.Storage.Sqlite.Tests;

/// <summary>The single-node channel the SQLite store runs with: what a later feature relies on when it subscribes.</summary>
public sealed class InProcessClusterEventsTests : IAsyncDisposable
{
    private readonly InProcessClusterEvents _events = new();

    public ValueTask DisposeAsync() => _events.DisposeAsync();

    [Fact]
    public void In_process_channel_is_connected_from_the_start_and_never_reconnects()
    {
        Assert.Equal((ClusterChannelStatus.InProcessTransport, true, 0), (_events.Status.Transport, _events.Status.Connected, _events.Status.Reconnects));
        Assert.NotNull(_events.Status.Since);
    }

    [Fact]
    public async Task Events_reach_subscribers_of_their_channel_only_in_order_and_marked_local()
    {
        var entities = Channel.CreateUnbounded<ClusterEvent>();
        var others = Channel.CreateUnbounded<ClusterEvent>();
        using var a = _events.Subscribe("entities", (e, _) => Task.FromResult(entities.Writer.TryWrite(e)));
        using var b = _events.Subscribe("other", (e, _) => Task.FromResult(others.Writer.TryWrite(e)));
        await _events.StartAsync(CancellationToken.None);

        for (var i = 0; i < 5; i++)
        {
            await _events.PublishAsync("entities", $$"""{"n":{{i}}}""", CancellationToken.None);
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        for (var i = 0; i < 5; i++)
        {
            var e = await entities.Reader.ReadAsync(timeout.Token);
            Assert.Equal(($$"""{"n":{{i}}}""", _events.NodeId, true, false), (e.Payload, e.Origin, e.IsLocal, e.IsResync));
        }

        Assert.False(others.Reader.TryRead(out _));
    }

    [Fact]
    public async Task A_failing_handler_does_not_stop_later_events_and_a_disposed_subscription_hears_nothing()
    {
        var heard = Channel.CreateUnbounded<string>();
        var dropped = Channel.CreateUnbounded<string>();
        using var failing = _events.Subscribe("c", (e, _) => e.Payload == "1" ? throw new InvalidOperationException("boom") : Task.FromResult(heard.Writer.TryWrite(e.Payload)));
        var gone = _events.Subscribe("c", (e, _) => Task.FromResult(dropped.Writer.TryWrite(e.Payload)));
        gone.Dispose();

        await _events.PublishAsync("c", "1", CancellationToken.None);
        await _events.PublishAsync("c", "2", CancellationToken.None);

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        Assert.Equal("2", await heard.Reader.ReadAsync(timeout.Token));
        Assert.False(dropped.Reader.TryRead(out _));
    }

    [Fact]
    public async Task Oversized_payloads_and_empty_channels_are_refused()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => _events.PublishAsync("c", new string('x', IClusterEvents.MaxPayloadBytes + 1), CancellationToken.None));
        await Assert.ThrowsAsync<ArgumentException>(() => _events.PublishAsync(string.Empty, "{}", CancellationToken.None));
    }
}
