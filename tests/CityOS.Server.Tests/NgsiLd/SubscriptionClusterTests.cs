using System.Net;

namespace CityOS.Server.Tests.NgsiLd;

/// <summary>
/// Subscriptions on two real nodes over one PostgreSQL schema: every node knows every subscription, and each
/// write notifies each matching subscription exactly once, whichever node took the write.
/// </summary>
public sealed class SubscriptionClusterTests(TwoPostgresNodes nodes, NotificationReceiver receiver)
    : IClassFixture<TwoPostgresNodes>, IClassFixture<NotificationReceiver>
{
    private readonly string _tenant = "c" + Guid.NewGuid().ToString("N")[..12];

    private async Task<string> SubscribeOnAAsync(string uri)
    {
        using var response = await nodes.A.NgPostAsync(
            "subscriptions",
            $$$"""{"type": "Subscription", "entities": [{"type": "Lamp"}], "notification": {"endpoint": {"uri": "{{{uri}}}"} } }""",
            _tenant);
        await response.ExpectAsync(HttpStatusCode.Created);
        return response.Headers.Location!.ToString().Split('/')[^1];
    }

    private async Task<string> CreateLampAsync(HttpClient node)
    {
        var id = Http.NewId("Lamp");
        using var response = await node.NgPostAsync("entities", $$$"""{"id": "{{{id}}}", "type": "Lamp", "on": {"type": "Property", "value": true}}""", _tenant);
        await response.ExpectAsync(HttpStatusCode.Created);
        return id;
    }

    /// <summary>Writes on B until B notifies: then B has heard of the subscription A created.</summary>
    private async Task WaitUntilBKnowsAsync(string path)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            await CreateLampAsync(nodes.B);
            try
            {
                await receiver.NextAsync(path, TimeSpan.FromMilliseconds(300));
                return;
            }
            catch (TimeoutException) when (DateTime.UtcNow < deadline)
            {
                // Not yet: the NOTIFY is still on its way.
            }
        }
    }

    [Fact]
    public async Task A_subscription_created_on_one_node_is_notified_exactly_once_for_writes_on_either_node()
    {
        var uri = receiver.NewEndpoint(out var path);
        var subscriptionId = await SubscribeOnAAsync(uri);
        await WaitUntilBKnowsAsync(path);

        var onB = await CreateLampAsync(nodes.B);
        Assert.Equal(onB, (string?)(await receiver.NextAsync(path)).Body["data"]![0]!["id"]);
        var onA = await CreateLampAsync(nodes.A);
        Assert.Equal(onA, (string?)(await receiver.NextAsync(path)).Body["data"]![0]!["id"]);
        await receiver.ExpectNoneAsync(path, TimeSpan.FromMilliseconds(800));

        // Both nodes' counters end up in the store; either node reports the sum.
        using var read = await nodes.B.NgGetAsync($"subscriptions/{subscriptionId}", _tenant);
        await read.ExpectAsync(HttpStatusCode.OK);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            using var again = await nodes.A.NgGetAsync($"subscriptions/{subscriptionId}", _tenant);
            var sent = (int?)(await again.JsonAsync())["notification"]!["timesSent"];
            if (sent >= 3)
            {
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, $"timesSent stayed at {sent}");
            await Task.Delay(200);
        }
    }

    [Fact]
    public async Task Pausing_on_one_node_stops_the_notifications_of_the_other()
    {
        var uri = receiver.NewEndpoint(out var path);
        var subscriptionId = await SubscribeOnAAsync(uri);
        await WaitUntilBKnowsAsync(path);

        using (var pause = await nodes.B.NgPatchAsync($"subscriptions/{subscriptionId}", """{"isActive": false}""", _tenant))
        {
            await pause.ExpectAsync(HttpStatusCode.NoContent);
        }

        // A hears of the pause through the cluster channel; give it the time a NOTIFY takes.
        await Task.Delay(1500);
        await CreateLampAsync(nodes.A);
        await CreateLampAsync(nodes.B);
        await receiver.ExpectNoneAsync(path, TimeSpan.FromMilliseconds(800));

        using (var deleted = await nodes.B.NgDeleteAsync($"subscriptions/{subscriptionId}", _tenant))
        {
            await deleted.ExpectAsync(HttpStatusCode.NoContent);
        }

        using var gone = await nodes.A.NgGetAsync($"subscriptions/{subscriptionId}", _tenant);
        await gone.ExpectAsync(HttpStatusCode.NotFound, "ResourceNotFound");
    }

    [Fact]
    public async Task A_periodic_subscription_is_sent_once_per_interval_by_the_cluster()
    {
        var uri = receiver.NewEndpoint(out var path);
        await CreateLampAsync(nodes.A);
        using (var response = await nodes.A.NgPostAsync(
            "subscriptions",
            $$$"""{"type": "Subscription", "entities": [{"type": "Lamp"}], "timeInterval": 1, "notification": {"endpoint": {"uri": "{{{uri}}}"} } }""",
            _tenant))
        {
            await response.ExpectAsync(HttpStatusCode.Created);
        }

        // Both nodes run the timer: without the claim in the store, each second would bring two notifications.
        await receiver.NextAsync(path, TimeSpan.FromSeconds(5));
        var count = 0;
        var window = DateTime.UtcNow + TimeSpan.FromSeconds(4);
        while (DateTime.UtcNow < window)
        {
            try
            {
                await receiver.NextAsync(path, window - DateTime.UtcNow);
                count++;
            }
            catch (TimeoutException)
            {
                break;
            }
        }

        Assert.InRange(count, 2, 5);
    }
}
