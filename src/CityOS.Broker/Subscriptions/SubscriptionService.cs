using System.Text.Json.Nodes;
using CityOS.Broker.Cluster;
using CityOS.Broker.Storage;
using CityOS.NgsiLd.Errors;
using CityOS.NgsiLd.JsonLd;

namespace CityOS.Broker.Subscriptions;

/// <summary>A subscription with its delivery counters (store plus this node's unflushed ones) and local queue figures.</summary>
/// <param name="Active">The subscription and its contexts.</param>
/// <param name="Status">Counters over every node.</param>
/// <param name="Local">This node's queue.</param>
public sealed record SubscriptionView(ActiveSubscription Active, DeliveryStatus Status, LocalDelivery Local);

/// <summary>
/// The subscription operations (§5.8): create, retrieve, query, update, delete, per tenant. Each change is
/// stored, applied to this node's <see cref="SubscriptionRegistry"/> and announced to the other nodes.
/// </summary>
public sealed class SubscriptionService
{
    private readonly ISubscriptionStore _store;
    private readonly IEntityStore _entities;
    private readonly SubscriptionRegistry _registry;
    private readonly SubscriptionNotifier _notifier;
    private readonly IClusterEvents _events;
    private readonly TimeProvider _time;

    /// <summary>The service.</summary>
    public SubscriptionService(ISubscriptionStore store, IEntityStore entities, SubscriptionRegistry registry, SubscriptionNotifier notifier, IClusterEvents events, TimeProvider time)
    {
        _store = store;
        _entities = entities;
        _registry = registry;
        _notifier = notifier;
        _events = events;
        _time = time;
    }

    /// <summary>Create Subscription (§5.8.1): AlreadyExists when the id is taken in the tenant. Returns the id.</summary>
    public async Task<string> CreateAsync(string tenant, JsonObject body, JsonNode contextNode, LdContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(body);
        var now = _time.GetUtcNow();
        var document = SubscriptionParser.PrepareCreate(body);
        var subscription = SubscriptionParser.Parse(tenant, document, contextNode, context, now, now);
        if (subscription.ExpiresAt is { } expires && expires <= now)
        {
            throw NgsiLdException.BadRequest("expiresAt is in the past.");
        }

        // Resolving jsonldContext now makes an unreachable one fail the request, not every notification.
        var active = await _registry.ActivateAsync(subscription, context, cancellationToken).ConfigureAwait(false);
        // Create Subscription may create the tenant (§5.8.1, FACTS §10): an empty write transaction makes it.
        await _entities.WriteAsync(tenant, createTenant: true, static (_, _) => ValueTask.FromResult(true), cancellationToken).ConfigureAwait(false);
        if (!await _store.InsertAsync(ToStored(subscription, DeliveryStatus.None), cancellationToken).ConfigureAwait(false))
        {
            throw new NgsiLdException(ErrorType.AlreadyExists, $"Subscription '{subscription.Id}' already exists.");
        }

        _registry.Put(active);
        await SubscriptionRegistry.AnnounceAsync(_events, tenant, subscription.Id, cancellationToken).ConfigureAwait(false);
        return subscription.Id;
    }

    /// <summary>Retrieve Subscription (§5.8.3).</summary>
    public async Task<SubscriptionView> RetrieveAsync(string tenant, string id, CancellationToken cancellationToken)
    {
        await EnsureTenantAsync(tenant, cancellationToken).ConfigureAwait(false);
        var stored = await _store.GetAsync(tenant, id, cancellationToken).ConfigureAwait(false) ?? throw NotFound(id);
        return await ViewAsync(stored, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Query Subscriptions (§5.8.4): a page in creation order and the total.</summary>
    public async Task<(IReadOnlyList<SubscriptionView> Page, int Total)> QueryAsync(string tenant, int limit, int offset, CancellationToken cancellationToken)
    {
        await EnsureTenantAsync(tenant, cancellationToken).ConfigureAwait(false);
        var all = (await _store.ListAsync(cancellationToken).ConfigureAwait(false)).Where(s => s.Tenant == tenant).ToList();
        var page = new List<SubscriptionView>();
        foreach (var stored in all.Skip(offset).Take(limit))
        {
            page.Add(await ViewAsync(stored, cancellationToken).ConfigureAwait(false));
        }

        return (page, all.Count);
    }

    /// <summary>Update Subscription (§5.8.2): the members of <paramref name="fragment"/> replace the stored ones.</summary>
    public async Task UpdateAsync(string tenant, string id, JsonObject fragment, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(fragment);
        await EnsureTenantAsync(tenant, cancellationToken).ConfigureAwait(false);
        var stored = await _store.GetAsync(tenant, id, cancellationToken).ConfigureAwait(false) ?? throw NotFound(id);
        var current = await _registry.HydrateAsync(stored, cancellationToken).ConfigureAwait(false);
        var now = _time.GetUtcNow();
        var expiresGiven = fragment.ContainsKey("expiresAt");
        var document = SubscriptionParser.ApplyPatch(current.Subscription.Document, fragment);
        var subscription = SubscriptionParser.Parse(tenant, document, current.Subscription.Context, current.Context, stored.CreatedAt, now);
        if (expiresGiven && subscription.ExpiresAt is { } expires && expires <= now)
        {
            throw NgsiLdException.BadRequest("expiresAt is in the past.");
        }

        var active = await _registry.ActivateAsync(subscription, current.Context, cancellationToken).ConfigureAwait(false);
        if (!await _store.UpdateAsync(ToStored(subscription, stored.Status), cancellationToken).ConfigureAwait(false))
        {
            throw NotFound(id);
        }

        _registry.Put(active);
        await SubscriptionRegistry.AnnounceAsync(_events, tenant, id, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Delete Subscription (§5.8.5).</summary>
    public async Task DeleteAsync(string tenant, string id, CancellationToken cancellationToken)
    {
        await EnsureTenantAsync(tenant, cancellationToken).ConfigureAwait(false);
        if (!await _store.DeleteAsync(tenant, id, cancellationToken).ConfigureAwait(false))
        {
            throw NotFound(id);
        }

        _registry.Remove(tenant, id);
        await SubscriptionRegistry.AnnounceAsync(_events, tenant, id, cancellationToken).ConfigureAwait(false);
    }

    private async Task<SubscriptionView> ViewAsync(StoredSubscription stored, CancellationToken cancellationToken)
    {
        var active = _registry.Find(stored.Tenant, stored.Id) is { } known && known.Subscription.ModifiedAt == stored.ModifiedAt
            ? known
            : await _registry.HydrateAsync(stored, cancellationToken).ConfigureAwait(false);
        var local = _notifier.LocalStatus(stored.Tenant, stored.Id);
        return new SubscriptionView(active, stored.Status.Add(local.Unflushed), local);
    }

    private static StoredSubscription ToStored(Subscription subscription, DeliveryStatus status)
    {
        var document = subscription.Document.DeepClone().AsObject();
        document["@context"] = subscription.Context.DeepClone();
        return new StoredSubscription(subscription.Tenant, subscription.Id, document.ToJsonString(), subscription.CreatedAt, subscription.ModifiedAt, status);
    }

    /// <summary>Operations other than create on an unknown tenant are 404 NonexistentTenant (FACTS §10).</summary>
    private async Task EnsureTenantAsync(string tenant, CancellationToken cancellationToken)
    {
        if (!await _entities.TenantExistsAsync(tenant, cancellationToken).ConfigureAwait(false))
        {
            throw EntityService.TenantNotFound(tenant);
        }
    }

    private static NgsiLdException NotFound(string id) => NgsiLdException.NotFound($"Subscription '{id}' does not exist.");
}
