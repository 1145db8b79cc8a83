using System.Text.Json;
using System.Text.Json.Nodes;
using CityOS.Broker.Cluster;
using CityOS.NgsiLd.Errors;
using CityOS.NgsiLd.JsonLd;
using CityOS.NgsiLd.Query;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CityOS.Broker.Subscriptions;

/// <summary>A subscription ready to match: parsed, with its @context and the one its notifications use.</summary>
/// <param name="Subscription">The subscription.</param>
/// <param name="Context">The @context its document is written in.</param>
/// <param name="NotificationContext">The @context notifications are compacted with (jsonldContext, else <paramref name="Context"/>).</param>
public sealed record ActiveSubscription(Subscription Subscription, LdContext Context, LdContext NotificationContext);

/// <summary>
/// The in-memory set of every subscription, per tenant, that the notifier matches writes against. Every node
/// keeps the same set: changes made here are applied directly and announced on <see cref="Channel"/>; other
/// nodes' announcements make this node read the subscription again from the store (or everything after a resync).
/// </summary>
public sealed partial class SubscriptionRegistry
{
    /// <summary>The cluster channel of subscription changes; the payload is <c>{"tenant":"…","id":"…"}</c>.</summary>
    public const string Channel = "subscriptions";

    private static readonly ActiveSubscription[] Empty = [];

    private readonly ISubscriptionStore _store;
    private readonly IContextResolver _resolver;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();

    // Per tenant, copy-on-write: the matcher reads a snapshot without locking on every write.
    private readonly Dictionary<string, Dictionary<string, ActiveSubscription>> _byTenant = new(StringComparer.Ordinal);
    private volatile Dictionary<string, TenantIndex> _snapshots = new(StringComparer.Ordinal);

    /// <summary>A registry over <paramref name="store"/>, resolving @contexts with <paramref name="resolver"/>.</summary>
    public SubscriptionRegistry(ISubscriptionStore store, IContextResolver resolver, ILogger<SubscriptionRegistry>? logger = null)
    {
        _store = store;
        _resolver = resolver;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <summary>Raised after a subscription was added, replaced or removed here (the argument names it).</summary>
    public event Action<string, string>? Changed;

    /// <summary>The subscriptions of <paramref name="tenant"/> (a snapshot; empty when none).</summary>
    public IReadOnlyList<ActiveSubscription> For(string tenant) =>
        _snapshots.TryGetValue(tenant, out var index) ? index.All : Empty;

    /// <summary>
    /// The subscriptions of <paramref name="tenant"/> that may select the entity <paramref name="id"/> of
    /// <paramref name="types"/>: those naming its id, those naming one of its types, plus those whose selectors are
    /// neither. A superset of the matches, so that a write is not compared with every subscription of the tenant.
    /// </summary>
    public IReadOnlyList<ActiveSubscription> Candidates(string tenant, string id, JsonArray? types)
    {
        if (!_snapshots.TryGetValue(tenant, out var index))
        {
            return Empty;
        }

        var byType = CandidatesByType(index, types);
        if (!index.ById.TryGetValue(id, out var byId))
        {
            return byType;
        }

        if (byType.Count == 0)
        {
            return byId;
        }

        var all = new List<ActiveSubscription>(byType.Count + byId.Length);
        all.AddRange(byId);
        all.AddRange(byType);
        return all;
    }

    private static IReadOnlyList<ActiveSubscription> CandidatesByType(TenantIndex index, JsonArray? types)
    {

        if (types is null)
        {
            return [.. index.All.Except(index.ById.Values.SelectMany(v => v))];
        }

        if (index.ByType.Count == 0)
        {
            return index.Others;
        }

        List<ActiveSubscription>? found = null;
        ActiveSubscription[]? single = null;
        foreach (var node in types)
        {
            if (node is JsonValue v && v.TryGetValue<string>(out var type) && index.ByType.TryGetValue(type, out var list))
            {
                if (single is null && found is null)
                {
                    single = list;
                }
                else
                {
                    found ??= [.. single!];
                    foreach (var active in list)
                    {
                        if (!found.Contains(active))
                        {
                            found.Add(active);
                        }
                    }
                }
            }
        }

        if (found is null)
        {
            if (index.Others.Length == 0)
            {
                return single ?? Empty;
            }

            if (single is null)
            {
                return index.Others;
            }

            found = [.. single];
        }

        found.AddRange(index.Others);
        return found;
    }

    /// <summary>Every subscription of every tenant (a snapshot).</summary>
    public IEnumerable<ActiveSubscription> All() => _snapshots.Values.SelectMany(s => s.All);

    /// <summary>One subscription, or null.</summary>
    public ActiveSubscription? Find(string tenant, string id)
    {
        foreach (var active in For(tenant))
        {
            if (active.Subscription.Id == id)
            {
                return active;
            }
        }

        return null;
    }

    /// <summary>Parses a stored subscription and resolves its @contexts.</summary>
    /// <exception cref="NgsiLdException">When the document is invalid or a context cannot be resolved.</exception>
    public async Task<ActiveSubscription> HydrateAsync(StoredSubscription stored, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stored);
        JsonObject document;
        try
        {
            document = JsonNode.Parse(stored.Document) as JsonObject ?? throw new JsonException("not an object");
        }
        catch (JsonException e)
        {
            throw new NgsiLdException(ErrorType.InternalError, $"Stored subscription '{stored.Id}' is not a JSON object: {e.Message}");
        }

        var contextNode = document["@context"]?.DeepClone() ?? JsonValue.Create(LdContext.Core.Urls[0]);
        document.Remove("@context");
        var context = await _resolver.ResolveAsync(contextNode, cancellationToken).ConfigureAwait(false);
        var subscription = SubscriptionParser.Parse(stored.Tenant, document, contextNode, context, stored.CreatedAt, stored.ModifiedAt);
        return await ActivateAsync(subscription, context, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Pairs a parsed subscription with its contexts.</summary>
    public async Task<ActiveSubscription> ActivateAsync(Subscription subscription, LdContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(subscription);
        var notificationContext = subscription.JsonLdContext is { } url
            ? await _resolver.ResolveAsync(JsonValue.Create(url), cancellationToken).ConfigureAwait(false)
            : context;
        return new ActiveSubscription(subscription, context, notificationContext);
    }

    /// <summary>Adds or replaces a subscription.</summary>
    public void Put(ActiveSubscription active)
    {
        ArgumentNullException.ThrowIfNull(active);
        var subscription = active.Subscription;
        lock (_lock)
        {
            if (!_byTenant.TryGetValue(subscription.Tenant, out var set))
            {
                _byTenant[subscription.Tenant] = set = new Dictionary<string, ActiveSubscription>(StringComparer.Ordinal);
            }

            set[subscription.Id] = active;
            Publish();
        }

        Changed?.Invoke(subscription.Tenant, subscription.Id);
    }

    /// <summary>Removes a subscription (nothing when unknown).</summary>
    public void Remove(string tenant, string id)
    {
        lock (_lock)
        {
            if (!_byTenant.TryGetValue(tenant, out var set) || !set.Remove(id))
            {
                return;
            }

            if (set.Count == 0)
            {
                _byTenant.Remove(tenant);
            }

            Publish();
        }

        Changed?.Invoke(tenant, id);
    }

    /// <summary>Replaces the whole set with what the store holds.</summary>
    public async Task LoadAsync(CancellationToken cancellationToken)
    {
        var stored = await _store.ListAsync(cancellationToken).ConfigureAwait(false);
        var loaded = new List<ActiveSubscription>(stored.Count);
        foreach (var item in stored)
        {
            try
            {
                loaded.Add(await HydrateAsync(item, cancellationToken).ConfigureAwait(false));
            }
            catch (NgsiLdException e)
            {
                LogUnloadable(_logger, e, item.Tenant, item.Id);
            }
        }

        List<(string, string)> touched;
        lock (_lock)
        {
            touched = [.. _byTenant.SelectMany(t => t.Value.Keys.Select(id => (t.Key, id)))];
            _byTenant.Clear();
            foreach (var active in loaded)
            {
                var s = active.Subscription;
                if (!_byTenant.TryGetValue(s.Tenant, out var set))
                {
                    _byTenant[s.Tenant] = set = new Dictionary<string, ActiveSubscription>(StringComparer.Ordinal);
                }

                set[s.Id] = active;
                touched.Add((s.Tenant, s.Id));
            }

            Publish();
        }

        foreach (var (tenant, id) in touched.Distinct())
        {
            Changed?.Invoke(tenant, id);
        }
    }

    /// <summary>Reads one subscription again from the store: replaced, or removed when gone.</summary>
    public async Task RefreshAsync(string tenant, string id, CancellationToken cancellationToken)
    {
        var stored = await _store.GetAsync(tenant, id, cancellationToken).ConfigureAwait(false);
        if (stored is null)
        {
            Remove(tenant, id);
            return;
        }

        try
        {
            Put(await HydrateAsync(stored, cancellationToken).ConfigureAwait(false));
        }
        catch (NgsiLdException e)
        {
            LogUnloadable(_logger, e, tenant, id);
        }
    }

    /// <summary>Announces a change of this node to the others (after it is stored).</summary>
    public static Task AnnounceAsync(IClusterEvents events, string tenant, string id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(events);
        var payload = JsonSerializer.Serialize(new Dictionary<string, string> { ["tenant"] = tenant, ["id"] = id });
        return events.PublishAsync(Channel, payload, cancellationToken);
    }

    /// <summary>Applies other nodes' changes until the handle is disposed.</summary>
    public IDisposable Follow(IClusterEvents events)
    {
        ArgumentNullException.ThrowIfNull(events);
        return events.Subscribe(Channel, async (e, cancellationToken) =>
        {
            if (e.IsResync)
            {
                await LoadAsync(cancellationToken).ConfigureAwait(false);
            }
            else if (!e.IsLocal)
            {
                using var document = JsonDocument.Parse(e.Payload);
                var root = document.RootElement;
                await RefreshAsync(root.GetProperty("tenant").GetString() ?? string.Empty, root.GetProperty("id").GetString() ?? string.Empty, cancellationToken).ConfigureAwait(false);
            }
        });
    }

    private void Publish()
    {
        var snapshots = new Dictionary<string, TenantIndex>(StringComparer.Ordinal);
        foreach (var (tenant, set) in _byTenant)
        {
            snapshots[tenant] = TenantIndex.Of([.. set.Values.OrderBy(a => a.Subscription.CreatedAt).ThenBy(a => a.Subscription.Id, StringComparer.Ordinal)]);
        }

        _snapshots = snapshots;
    }

    /// <summary>One tenant's subscriptions, and the same indexed by the plain type names their selectors name.</summary>
    private sealed record TenantIndex(
        ActiveSubscription[] All,
        Dictionary<string, ActiveSubscription[]> ById,
        Dictionary<string, ActiveSubscription[]> ByType,
        ActiveSubscription[] Others)
    {
        public static TenantIndex Of(ActiveSubscription[] all)
        {
            var byId = new Dictionary<string, List<ActiveSubscription>>(StringComparer.Ordinal);
            var byType = new Dictionary<string, List<ActiveSubscription>>(StringComparer.Ordinal);
            var others = new List<ActiveSubscription>();
            foreach (var active in all)
            {
                var selectors = active.Subscription.Entities;
                if (selectors.Count > 0 && selectors.All(s => s.Id is not null))
                {
                    // The common "this entity" subscription: found by the written id alone.
                    foreach (var id in selectors.Select(s => s.Id!).Distinct(StringComparer.Ordinal))
                    {
                        Add(byId, id, active);
                    }

                    continue;
                }

                if (selectors.Count == 0 || selectors.Any(s => s.Type is not TypeName))
                {
                    // No entities (watchedAttributes only), '*' or a type expression: checked for every write.
                    others.Add(active);
                    continue;
                }

                foreach (var type in selectors.Select(s => ((TypeName)s.Type).Iri).Distinct(StringComparer.Ordinal))
                {
                    Add(byType, type, active);
                }
            }

            return new TenantIndex(
                all,
                byId.ToDictionary(p => p.Key, p => p.Value.ToArray(), StringComparer.Ordinal),
                byType.ToDictionary(p => p.Key, p => p.Value.ToArray(), StringComparer.Ordinal),
                [.. others]);
        }

        private static void Add(Dictionary<string, List<ActiveSubscription>> index, string key, ActiveSubscription active)
        {
            if (!index.TryGetValue(key, out var list))
            {
                index[key] = list = [];
            }

            list.Add(active);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Subscription {Id} of tenant '{Tenant}' cannot be loaded and will not notify")]
    private static partial void LogUnloadable(ILogger logger, Exception exception, string tenant, string id);
}
