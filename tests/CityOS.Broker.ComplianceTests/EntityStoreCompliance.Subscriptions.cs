using CityOS.Broker.Storage;
using CityOS.Broker.Subscriptions;

namespace CityOS.Broker.ComplianceTests;

/// <summary>The subscription store contract (<see cref="ISubscriptionStore"/>), kept in the entity store's storage.</summary>
public abstract partial class EntityStoreCompliance
{
    /// <summary>The subscription store kept in <paramref name="store"/>'s storage.</summary>
    protected abstract ISubscriptionStore SubscriptionsOf(IEntityStore store);

    private static readonly DateTimeOffset Created = new(2026, 11, 23, 10, 0, 0, 123, TimeSpan.Zero);

    private static StoredSubscription Subscription(string id, string tenant = "", string document = """{"type":"Subscription"}""") =>
        new(tenant, id, document, Created, Created, DeliveryStatus.None);

    [Fact]
    public async Task Subscriptions_are_inserted_once_per_tenant_and_read_back()
    {
        var subscriptions = SubscriptionsOf(Store);
        Assert.True(await subscriptions.InsertAsync(Subscription("urn:s:1"), None));
        Assert.False(await subscriptions.InsertAsync(Subscription("urn:s:1", document: "{}"), None));
        Assert.True(await subscriptions.InsertAsync(Subscription("urn:s:1", tenant: "city"), None));

        var read = await subscriptions.GetAsync("", "urn:s:1", None);
        Assert.NotNull(read);
        Assert.Equal("""{"type":"Subscription"}""", read.Document);
        Assert.Equal(Created, read.CreatedAt);
        Assert.Equal(DeliveryStatus.None, read.Status);
        Assert.Null(await subscriptions.GetAsync("other", "urn:s:1", None));
        Assert.Equal(2, (await subscriptions.ListAsync(None)).Count);
    }

    [Fact]
    public async Task Updating_a_subscription_replaces_its_document_and_keeps_its_counters()
    {
        var subscriptions = SubscriptionsOf(Store);
        Assert.False(await subscriptions.UpdateAsync(Subscription("urn:s:none"), None));
        await subscriptions.InsertAsync(Subscription("urn:s:2"), None);
        var at = Created.AddMinutes(1);
        await subscriptions.AddStatusAsync("", "urn:s:2", new DeliveryStatus(3, 1, at, at, at), None);

        var modified = Created.AddHours(1);
        Assert.True(await subscriptions.UpdateAsync(Subscription("urn:s:2", document: """{"isActive":false}""") with { ModifiedAt = modified }, None));
        var read = (await subscriptions.GetAsync("", "urn:s:2", None))!;
        Assert.Equal("""{"isActive":false}""", read.Document);
        Assert.Equal(modified, read.ModifiedAt);
        Assert.Equal(Created, read.CreatedAt);
        Assert.Equal(3, read.Status.TimesSent);
    }

    [Fact]
    public async Task Status_deltas_add_up_and_keep_the_latest_times()
    {
        var subscriptions = SubscriptionsOf(Store);
        await subscriptions.InsertAsync(Subscription("urn:s:3"), None);
        var early = Created.AddSeconds(1);
        var late = Created.AddSeconds(2);

        // Two nodes reporting, the later report carrying an older success.
        await subscriptions.AddStatusAsync("", "urn:s:3", new DeliveryStatus(2, 0, late, late, null), None);
        await subscriptions.AddStatusAsync("", "urn:s:3", new DeliveryStatus(1, 1, early, early, early), None);
        var status = (await subscriptions.GetAsync("", "urn:s:3", None))!.Status;
        Assert.Equal(new DeliveryStatus(3, 1, late, late, early), status);

        // A subscription that is gone is not recreated by a late report.
        await subscriptions.AddStatusAsync("", "urn:s:gone", new DeliveryStatus(1, 0, late, late, null), None);
        Assert.Null(await subscriptions.GetAsync("", "urn:s:gone", None));
    }

    [Fact]
    public async Task A_periodic_notification_is_claimed_once_per_period()
    {
        var subscriptions = SubscriptionsOf(Store);
        await subscriptions.InsertAsync(Subscription("urn:s:6"), None);
        var first = Created.AddSeconds(10);
        Assert.True(await subscriptions.ClaimPeriodicAsync("", "urn:s:6", first, first.AddSeconds(-5), None));

        // A second node ticking at nearly the same time finds the period taken; the next period is free again.
        Assert.False(await subscriptions.ClaimPeriodicAsync("", "urn:s:6", first.AddMilliseconds(300), first.AddSeconds(-4.7), None));
        Assert.True(await subscriptions.ClaimPeriodicAsync("", "urn:s:6", first.AddSeconds(10), first.AddSeconds(5), None));
        Assert.False(await subscriptions.ClaimPeriodicAsync("", "urn:s:gone", first, first, None));
    }

    [Fact]
    public async Task Deleted_subscriptions_are_gone_and_survive_nothing_after_reopening()
    {
        var subscriptions = SubscriptionsOf(Store);
        await subscriptions.InsertAsync(Subscription("urn:s:4"), None);
        await subscriptions.InsertAsync(Subscription("urn:s:5"), None);
        Assert.True(await subscriptions.DeleteAsync("", "urn:s:4", None));
        Assert.False(await subscriptions.DeleteAsync("", "urn:s:4", None));

        await ReopenAsync();
        var reopened = SubscriptionsOf(Store);
        Assert.Null(await reopened.GetAsync("", "urn:s:4", None));
        Assert.NotNull(await reopened.GetAsync("", "urn:s:5", None));
    }
}
