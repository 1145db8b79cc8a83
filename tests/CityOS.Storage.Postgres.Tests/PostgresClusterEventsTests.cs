using System.Threading.Channels;
using CityOS.Broker.Cluster;
using Npgsql;

namespace CityOS.Storage.Postgres.Tests;

/// <summary>Two nodes' event channels on one schema of the test server, as two broker processes would have.</summary>
public sealed class PostgresClusterEventsTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private readonly TestDatabase _database = new();
    private readonly List<IAsyncDisposable> _owned = [];

    public Task InitializeAsync() => _database.CreateAsync();

    public async Task DisposeAsync()
    {
        for (var i = _owned.Count - 1; i >= 0; i--)
        {
            await _owned[i].DisposeAsync();
        }

        await _database.DropAsync();
    }

    [Fact]
    public async Task Event_published_on_one_node_reaches_both_and_is_marked_local_only_on_the_publisher()
    {
        var (a, heardByA) = await StartNodeAsync(_database);
        var (b, heardByB) = await StartNodeAsync(_database);

        await b.PublishAsync("t", """{"n":1}""", CancellationToken.None);

        var onA = await NextAsync(heardByA);
        Assert.Equal(("t", """{"n":1}""", b.NodeId, false, false), (onA.Channel, onA.Payload, onA.Origin, onA.IsLocal, onA.IsResync));
        Assert.True((await NextAsync(heardByB)).IsLocal);
    }

    [Fact]
    public async Task Nodes_in_another_schema_of_the_same_database_hear_nothing()
    {
        var other = new TestDatabase();
        await other.CreateAsync();
        try
        {
            var (a, _) = await StartNodeAsync(_database);
            var (_, heardElsewhere) = await StartNodeAsync(other);
            var (_, heardHere) = await StartNodeAsync(_database);

            await a.PublishAsync("t", "{}", CancellationToken.None);

            Assert.Equal(a.NodeId, (await NextAsync(heardHere)).Origin);
            await Task.Delay(300);
            Assert.False(heardElsewhere.TryRead(out _));
        }
        finally
        {
            await other.DropAsync();
        }
    }

    [Fact]
    public async Task Listener_reconnects_after_its_backend_is_terminated_and_asks_subscribers_to_resync()
    {
        var (a, heardByA) = await StartNodeAsync(_database);
        var (b, _) = await StartNodeAsync(_database);
        var firstBackend = a.ListenerProcessId;
        Assert.NotEqual(0, firstBackend);
        var up = a.Status;
        Assert.Equal((ClusterChannelStatus.PostgresListenTransport, true, 0), (up.Transport, up.Connected, up.Reconnects));
        Assert.NotNull(up.Since);

        await using (var admin = new NpgsqlConnection(TestDatabase.ServerConnectionString))
        {
            await admin.OpenAsync();
            await using var terminate = new NpgsqlCommand("SELECT pg_terminate_backend($1)", admin);
            terminate.Parameters.Add(new NpgsqlParameter<int> { TypedValue = firstBackend });
            Assert.Equal(true, await terminate.ExecuteScalarAsync());
        }

        // Whatever was sent while it was down is unknown, so subscribers are told to reload ...
        Assert.True((await NextAsync(heardByA)).IsResync);
        Assert.NotEqual(firstBackend, a.ListenerProcessId);

        // The status counts the reconnection and dates the new connection; the other node never lost its own.
        Assert.True(a.Status.Connected);
        Assert.Equal(1, a.Status.Reconnects);
        Assert.True(a.Status.Since > up.Since);
        Assert.Equal(0, b.Status.Reconnects);

        // ... and events flow again on the new connection.
        await b.PublishAsync("t", """{"after":true}""", CancellationToken.None);
        var after = await NextAsync(heardByA);
        Assert.Equal("""{"after":true}""", after.Payload);
        Assert.False(after.IsResync);
    }

    [Fact]
    public async Task Status_is_disconnected_before_the_first_listen()
    {
        var store = new PostgresEntityStore(_database.ConnectionString);
        _owned.Add(store);
        var events = new PostgresClusterEvents(_database.ConnectionString, store);
        _owned.Add(events);

        Assert.Equal((false, (DateTimeOffset?)null, 0), (events.Status.Connected, events.Status.Since, events.Status.Reconnects));
    }

    [Fact]
    public async Task Payload_beyond_the_notify_limit_is_refused()
    {
        var (a, _) = await StartNodeAsync(_database);

        await Assert.ThrowsAsync<ArgumentException>(() => a.PublishAsync("t", new string('x', IClusterEvents.MaxPayloadBytes + 1), CancellationToken.None));
        await Assert.ThrowsAsync<ArgumentException>(() => a.PublishAsync("t", new string('"', IClusterEvents.MaxPayloadBytes / 2 + 100), CancellationToken.None));
    }

    private async Task<(PostgresClusterEvents Events, ChannelReader<ClusterEvent> Heard)> StartNodeAsync(TestDatabase database)
    {
        var store = new PostgresEntityStore(database.ConnectionString);
        _owned.Add(store);
        await store.InitializeAsync(CancellationToken.None);
        var events = new PostgresClusterEvents(database.ConnectionString, store);
        _owned.Add(events);
        var heard = Channel.CreateUnbounded<ClusterEvent>();
        events.Subscribe("t", (e, _) =>
        {
            heard.Writer.TryWrite(e);
            return Task.CompletedTask;
        });
        await events.StartAsync(CancellationToken.None);
        return (events, heard.Reader);
    }

    private static async Task<ClusterEvent> NextAsync(ChannelReader<ClusterEvent> heard)
    {
        using var timeout = new CancellationTokenSource(Patience);
        return await heard.ReadAsync(timeout.Token);
    }
}
