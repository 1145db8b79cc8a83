using System.Text.Json.Nodes;
using CityOS.Broker.Changes;
using CityOS.Broker.Storage;
using CityOS.NgsiLd.Errors;

namespace CityOS.Broker.ComplianceTests;

/// <summary>
/// The entity service's change observers on each store: what they are told inside the transaction and after the
/// commit. Subscriptions and the temporal history rely on exactly this.
/// </summary>
public abstract partial class EntityStoreCompliance
{
    private sealed class RecordingObserver : IEntityChangeObserver
    {
        public List<EntityChange> InTransaction { get; } = [];

        public List<EntityChange> Committed { get; } = [];

        public int WriteCalls { get; private set; }

        public Func<IReadOnlyList<EntityChange>, Exception?> FailWith { get; set; } = _ => null;

        public ValueTask OnWriteAsync(string tenant, IEntityWriteSession session, IReadOnlyList<EntityChange> changes, CancellationToken cancellationToken)
        {
            WriteCalls++;
            InTransaction.Clear();
            InTransaction.AddRange(changes);
            return FailWith(changes) is { } e ? ValueTask.FromException(e) : ValueTask.CompletedTask;
        }

        public void OnCommitted(string tenant, IReadOnlyList<EntityChange> changes) => Committed.AddRange(changes);
    }

    private static EntityService ServiceOver(IEntityStore store, IEntityChangeObserver observer) =>
        new(store, TimeProvider.System, [observer]);

    [Fact]
    public async Task Observers_learn_create_update_and_delete_with_the_entity_before_and_after()
    {
        var observer = new RecordingObserver();
        var service = ServiceOver(Store, observer);
        await service.CreateAsync("", Entity("urn:ngsi-ld:Vehicle:c1", Vehicle, (Speed, 10)), None);
        await service.UpdateAttributesAsync("", "urn:ngsi-ld:Vehicle:c1", new JsonObject { [Speed] = new JsonArray(new JsonObject { ["type"] = "Property", ["value"] = 20 }) }, None);
        await service.DeleteAsync("", "urn:ngsi-ld:Vehicle:c1", None);

        Assert.Equal([EntityChangeKind.Created, EntityChangeKind.Updated, EntityChangeKind.Deleted], observer.Committed.Select(c => c.Kind));
        var (created, updated, deleted) = (observer.Committed[0], observer.Committed[1], observer.Committed[2]);
        Assert.Null(created.Before);
        Assert.Equal(10, (int)created.After![Speed]![0]!["value"]!);
        // The "before" is the stored entity, not the object the broker then edited in place.
        Assert.Equal(10, (int)updated.Before![Speed]![0]!["value"]!);
        Assert.Equal(20, (int)updated.After![Speed]![0]!["value"]!);
        Assert.Equal(20, (int)deleted.Before![Speed]![0]!["value"]!);
        Assert.Null(deleted.After);
        Assert.All(observer.Committed, c => Assert.Equal(("", "urn:ngsi-ld:Vehicle:c1"), (c.Tenant, c.EntityId)));
    }

    [Fact]
    public async Task A_batch_reports_each_successful_item_once_in_order_and_failed_items_not_at_all()
    {
        var observer = new RecordingObserver();
        var service = ServiceOver(Store, observer);
        await service.CreateAsync("", Entity("urn:ngsi-ld:Vehicle:b1", Vehicle, (Speed, 1)), None);
        observer.Committed.Clear();

        var result = await service.BatchCreateAsync("", [
            new BatchItem("urn:ngsi-ld:Vehicle:b2", Entity("urn:ngsi-ld:Vehicle:b2", Vehicle, (Speed, 2)), null),
            new BatchItem("urn:ngsi-ld:Vehicle:b1", Entity("urn:ngsi-ld:Vehicle:b1", Vehicle, (Speed, 3)), null),
            new BatchItem("urn:ngsi-ld:Vehicle:b3", Entity("urn:ngsi-ld:Vehicle:b3", Vehicle, (Speed, 4)), null),
        ], None);

        Assert.Single(result.Errors);
        Assert.Equal(["urn:ngsi-ld:Vehicle:b2", "urn:ngsi-ld:Vehicle:b3"], observer.Committed.Select(c => c.EntityId));
        Assert.Equal(observer.Committed, observer.InTransaction);
    }

    [Fact]
    public async Task Purge_reports_every_deleted_entity_with_its_content()
    {
        var observer = new RecordingObserver();
        var service = ServiceOver(Store, observer);
        await service.CreateAsync("", Entity("urn:ngsi-ld:Vehicle:p1", Vehicle, (Speed, 1)), None);
        await service.CreateAsync("", Entity("urn:ngsi-ld:Vehicle:p2", Vehicle, (Speed, 2)), None);
        observer.Committed.Clear();

        Assert.Equal(2, await service.PurgeAsync("", new EntityQuery { Type = new AnyTypeOf(Vehicle) }, None));

        Assert.Equal([(EntityChangeKind.Deleted, 1), (EntityChangeKind.Deleted, 2)], observer.Committed.Select(c => (c.Kind, (int)c.Before![Speed]![0]!["value"]!)));
    }

    [Fact]
    public async Task An_observer_that_throws_inside_the_transaction_rolls_the_write_back_and_hears_no_commit()
    {
        var observer = new RecordingObserver { FailWith = _ => new InvalidOperationException("history store full") };
        var service = ServiceOver(Store, observer);

        await Assert.ThrowsAsync<InvalidOperationException>(() => service.CreateAsync("", Entity("urn:ngsi-ld:Vehicle:x1", Vehicle, (Speed, 1)), None));

        Assert.Empty(observer.Committed);
        Assert.Null(await Store.GetEntityAsync("", "urn:ngsi-ld:Vehicle:x1", None));
    }

    [Fact]
    public async Task A_write_that_changes_nothing_or_fails_tells_no_observer()
    {
        var observer = new RecordingObserver();
        var service = ServiceOver(Store, observer);
        await service.CreateAsync("", Entity("urn:ngsi-ld:Vehicle:n1", Vehicle, (Speed, 1)), None);
        observer.Committed.Clear();

        // A store may bet that a create's id is new and find out at its flush (PostgreSQL): the observer may then have
        // seen the attempt inside its rolled-back transaction, as the contract allows, but nothing is committed.
        var ex = await Assert.ThrowsAsync<NgsiLdException>(() => service.CreateAsync("", Entity("urn:ngsi-ld:Vehicle:n1", Vehicle, (Speed, 1)), None));
        Assert.Equal(ErrorType.AlreadyExists, ex.Type);
        Assert.Empty(observer.Committed);

        var calls = observer.WriteCalls;
        await Assert.ThrowsAsync<NgsiLdException>(() => service.DeleteAsync("", "urn:ngsi-ld:Vehicle:missing", None));
        // Update of attributes the entity lacks: nothing updated, nothing written.
        await service.UpdateAttributesAsync("", "urn:ngsi-ld:Vehicle:n1", new JsonObject { [Owner] = new JsonArray(new JsonObject { ["type"] = "Property", ["value"] = "x" }) }, None);

        Assert.Empty(observer.Committed);
        Assert.Equal(calls, observer.WriteCalls);
    }
}
