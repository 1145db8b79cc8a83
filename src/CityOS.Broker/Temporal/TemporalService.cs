using System.Text.Json.Nodes;
using CityOS.Broker.Storage;
using CityOS.NgsiLd.Errors;
using CityOS.NgsiLd.Model;
using Microsoft.Extensions.Options;

namespace CityOS.Broker.Temporal;

/// <summary>One attribute's history in a temporal answer: instances oldest first, or aggregation buckets.</summary>
public sealed record AttributeHistory(string Attribute, IReadOnlyList<StoredInstance> Instances, IReadOnlyList<AggregateBucket>? Buckets);

/// <summary>One entity's temporal representation before rendering.</summary>
public sealed record TemporalEntity(string Id, IReadOnlyList<string> Types, IReadOnlyList<AttributeHistory> Attributes);

/// <summary>
/// The time range a truncated answer holds (§6.3.10 paging of instances): Start inclusive, End exclusive, in µs;
/// Size is lastN when given. The client continues with timerel=after&amp;timeAt=End (or, with lastN, before Start).
/// </summary>
public sealed record TemporalRange(long Start, long End, int? Size);

/// <summary>Temporal entities with the entity count (count=true) and the instance range when truncated.</summary>
public sealed record TemporalResult(IReadOnlyList<TemporalEntity> Entities, long? TotalCount, TemporalRange? Range);

/// <summary>
/// The temporal API's operations (§5.6.11–§5.6.16, §5.7.3–§5.7.4) over the history the recorder keeps and the
/// entities of the entity service.
/// </summary>
public sealed class TemporalService
{
    private readonly IEntityStore _store;
    private readonly EntityService _entities;
    private readonly ITemporalStore? _temporal;
    private readonly IOptionsMonitor<TemporalOptions> _options;
    private readonly TimeProvider _time;

    /// <summary>The service over the entity store and, when the backend keeps one, its temporal store.</summary>
    public TemporalService(IEntityStore store, EntityService entities, IOptionsMonitor<TemporalOptions> options, TimeProvider time, ITemporalStore? temporal = null)
    {
        _store = store;
        _entities = entities;
        _options = options;
        _time = time;
        _temporal = temporal;
    }

    private ITemporalStore Temporal =>
        _temporal ?? throw new NgsiLdException(ErrorType.OperationNotSupported, "This storage backend keeps no attribute history.");

    /// <summary>Retrieve Temporal Evolution of an Entity (§5.7.3): also after the entity was deleted, while its history lasts.</summary>
    public async Task<TemporalResult> RetrieveAsync(string tenant, string id, TemporalRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        await EnsureTenantAsync(tenant, cancellationToken).ConfigureAwait(false);
        var current = await _store.GetEntityAsync(tenant, id, cancellationToken).ConfigureAwait(false);
        var types = current is not null
            ? TypesOf(current)
            : await Temporal.GetEntityTypesAsync(tenant, id, cancellationToken).ConfigureAwait(false) ?? throw EntityService.EntityNotFound(id);
        var entities = new List<(string, IReadOnlyList<string>)> { (id, types) };
        return await ReadAsync(tenant, entities, null, request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Query Temporal Evolution of Entities (§5.7.4): the entities the query matches now, paged, each with its history.</summary>
    public async Task<TemporalResult> QueryAsync(string tenant, EntityQuery query, TemporalRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(request);
        var page = await _entities.QueryAsync(tenant, query, cancellationToken).ConfigureAwait(false);
        var entities = page.Entities.Select(e => ((string)e[Names.Id]!, (IReadOnlyList<string>)TypesOf(e))).ToList();
        return await ReadAsync(tenant, entities, page.TotalCount, request, cancellationToken).ConfigureAwait(false);
    }

    private async Task<TemporalResult> ReadAsync(string tenant, List<(string Id, IReadOnlyList<string> Types)> entities, long? total, TemporalRequest request, CancellationToken cancellationToken)
    {
        var temporal = Temporal;
        var limit = _options.CurrentValue.MaxInstancesPerAttribute;
        var result = new List<(string Id, IReadOnlyList<string> Types, List<AttributeHistory> Attributes)>(entities.Count);
        var truncated = false;
        long? cut = null;
        foreach (var (id, types) in entities)
        {
            IReadOnlyList<string> attributes = request.Attrs is { } wanted
                ? [.. wanted.Order(StringComparer.Ordinal)]
                : await temporal.GetAttributesAsync(tenant, id, cancellationToken).ConfigureAwait(false);
            var histories = new List<AttributeHistory>(attributes.Count);
            foreach (var attribute in attributes)
            {
                if (request.Format == TemporalFormat.Aggregated)
                {
                    var buckets = await temporal.AggregateAsync(
                        tenant, id, attribute, request.Window, request.AggregationPeriod, request.Window.From ?? 0,
                        request.AggregationMethods.Contains("distinctCount"), cancellationToken).ConfigureAwait(false);
                    buckets = [.. buckets.Where(b => KeepDataset(request, b.DatasetId))];
                    if (buckets.Count > 0)
                    {
                        // The newest instance tells the attribute's type (one index seek).
                        var sample = await temporal.GetInstancesAsync(tenant, id, attribute, request.Window, 1, newestFirst: true, cancellationToken).ConfigureAwait(false);
                        histories.Add(new AttributeHistory(attribute, sample, buckets));
                    }

                    continue;
                }

                var (instances, attributeCut) = await ReadInstancesAsync(temporal, tenant, id, attribute, request, limit, cancellationToken).ConfigureAwait(false);
                if (attributeCut is { } c)
                {
                    truncated = true;
                    // Forward pages end at the earliest cut of any attribute, backward (lastN) pages at the latest.
                    cut = cut is null ? c : request.LastN is null ? Math.Min(cut.Value, c) : Math.Max(cut.Value, c);
                }

                if (instances.Count > 0)
                {
                    histories.Add(new AttributeHistory(attribute, instances, null));
                }
            }

            result.Add((id, types, histories));
        }

        TemporalRange? range = null;
        if (truncated && cut is { } at)
        {
            var property = request.Window.Property;
            var forward = request.LastN is null;
            long? earliest = null;
            long? latest = null;
            foreach (var entity in result)
            {
                for (var i = 0; i < entity.Attributes.Count; i++)
                {
                    var kept = entity.Attributes[i].Instances.Where(x => forward ? x.TimeOf(property) < at : x.TimeOf(property) >= at).ToList();
                    entity.Attributes[i] = entity.Attributes[i] with { Instances = kept };
                    foreach (var instance in kept)
                    {
                        var t = instance.TimeOf(property)!.Value;
                        earliest = earliest is null ? t : Math.Min(earliest.Value, t);
                        latest = latest is null ? t : Math.Max(latest.Value, t);
                    }
                }

                entity.Attributes.RemoveAll(a => a.Instances.Count == 0);
            }

            range = forward
                ? new TemporalRange(request.Window.From ?? earliest ?? at, at, null)
                : new TemporalRange(at, request.Window.To ?? (latest + 1) ?? at, request.LastN);
        }

        return new TemporalResult([.. result.Select(e => new TemporalEntity(e.Id, e.Types, e.Attributes))], total, range);
    }

    // The instances of one attribute (oldest first) and, when the history goes on beyond the limit, where it was cut.
    private static async Task<(List<StoredInstance> Instances, long? Cut)> ReadInstancesAsync(
        ITemporalStore temporal, string tenant, string id, string attribute, TemporalRequest request, int limit, CancellationToken cancellationToken)
    {
        var property = request.Window.Property;
        if (request.LastN is { } lastN)
        {
            var paged = lastN > limit;
            var newest = await temporal.GetInstancesAsync(tenant, id, attribute, request.Window, paged ? limit + 1 : lastN, newestFirst: true, cancellationToken).ConfigureAwait(false);
            var kept = newest.Where(i => KeepDataset(request, i.DatasetId)).ToList();
            long? cut = null;
            if (paged && newest.Count > limit)
            {
                // Everything at or after the oldest instance returned; ties at that time stay together.
                cut = newest[limit - 1].TimeOf(property);
                kept = [.. kept.Where(i => i.TimeOf(property) >= cut)];
            }

            kept.Reverse();
            return (kept, cut);
        }

        var oldest = await temporal.GetInstancesAsync(tenant, id, attribute, request.Window, limit + 1, newestFirst: false, cancellationToken).ConfigureAwait(false);
        var instances = oldest.Where(i => KeepDataset(request, i.DatasetId)).ToList();
        if (oldest.Count <= limit)
        {
            return (instances, null);
        }

        // Cut before the first instance not returned; when a whole page shares one time, take it whole instead.
        var first = oldest[0].TimeOf(property)!.Value;
        var next = oldest[limit].TimeOf(property)!.Value;
        var at = next > first ? next : next + 1;
        return ([.. instances.Where(i => i.TimeOf(property) < at)], at);
    }

    private static bool KeepDataset(TemporalRequest request, string? datasetId) =>
        request.DatasetIds is null || request.DatasetIds.Contains(datasetId ?? "@none");

    /// <summary>
    /// Create or Update Temporal Representation of an Entity (§5.6.11, POST /temporal/entities). A new entity is
    /// created with the latest instance of each attribute (so it is queryable like any other) and the rest of the
    /// instances are added to its history; for an entity that exists, or has a history, the instances are added.
    /// True when the entity was created.
    /// </summary>
    public async Task<bool> UpsertAsync(string tenant, JsonObject entity, IReadOnlyDictionary<string, List<JsonObject>> instances, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entity);
        ArgumentNullException.ThrowIfNull(instances);
        var temporal = Temporal;
        var id = (string)entity[Names.Id]!;
        var exists = await _store.TenantExistsAsync(tenant, cancellationToken).ConfigureAwait(false)
            && (await _store.GetEntityAsync(tenant, id, cancellationToken).ConfigureAwait(false) is not null
                || await temporal.GetEntityTypesAsync(tenant, id, cancellationToken).ConfigureAwait(false) is not null);
        var now = TemporalTime.ToMicros(_time.GetUtcNow());
        if (exists)
        {
            await AppendRowsAsync(tenant, createTenant: false, [new TemporalEntityTypes(id, TypesOf(entity))], RowsOf(id, instances, now, null), cancellationToken).ConfigureAwait(false);
            return false;
        }

        // The latest instance per attribute and datasetId becomes the entity; when the recorder runs, it records those.
        var latest = new HashSet<JsonObject>(ReferenceEqualityComparer.Instance);
        var current = new JsonObject();
        foreach (var (key, node) in entity)
        {
            current[key] = node?.DeepClone();
        }

        foreach (var (attribute, list) in instances)
        {
            var chosen = new JsonArray();
            foreach (var group in list.GroupBy(i => Instances.DatasetId(i) ?? string.Empty))
            {
                // The last one sent wins a tie (and orders instances without observedAt).
                var last = group.Select((instance, index) => (instance, index))
                    .OrderBy(p => TemporalTime.Parse(p.instance[Names.ObservedAt]) ?? long.MinValue).ThenBy(p => p.index).Last().instance;
                latest.Add(last);
                var copy = last.DeepClone().AsObject();
                copy.Remove("instanceId");
                chosen.Add(copy);
            }

            current[attribute] = chosen;
        }

        try
        {
            await _entities.CreateAsync(tenant, current, cancellationToken).ConfigureAwait(false);
        }
        catch (NgsiLdException e) when (e.Type == ErrorType.AlreadyExists)
        {
            // Created meanwhile by another request: then this is an append.
            await AppendRowsAsync(tenant, createTenant: false, [], RowsOf(id, instances, now, null), cancellationToken).ConfigureAwait(false);
            return false;
        }

        var skip = _options.CurrentValue.Enabled ? latest : null;
        var rest = RowsOf(id, instances, now, skip);
        if (rest.Count > 0)
        {
            await AppendRowsAsync(tenant, createTenant: false, [], rest, cancellationToken).ConfigureAwait(false);
        }

        return true;
    }

    /// <summary>Add Attributes to Temporal Representation of an Entity (§5.6.12): NotFound when the entity has neither a current state nor a history.</summary>
    public async Task AppendAsync(string tenant, string id, IReadOnlyDictionary<string, List<JsonObject>> instances, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instances);
        var temporal = Temporal;
        await EnsureTenantAsync(tenant, cancellationToken).ConfigureAwait(false);
        if (await _store.GetEntityAsync(tenant, id, cancellationToken).ConfigureAwait(false) is null
            && await temporal.GetEntityTypesAsync(tenant, id, cancellationToken).ConfigureAwait(false) is null)
        {
            throw EntityService.EntityNotFound(id);
        }

        await AppendRowsAsync(tenant, createTenant: false, [], RowsOf(id, instances, TemporalTime.ToMicros(_time.GetUtcNow()), null), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Modify Attribute instance (§5.6.14): the members sent replace those of the stored instance (the type stays unless
    /// sent); modifiedAt becomes now.
    /// </summary>
    public async Task ModifyInstanceAsync(string tenant, string id, string attribute, long instanceId, JsonObject fragment, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(fragment);
        var temporal = Temporal;
        await EnsureTenantAsync(tenant, cancellationToken).ConfigureAwait(false);
        var now = TemporalTime.ToMicros(_time.GetUtcNow());
        var found = await _store.WriteAsync(tenant, createTenant: false, async (s, ct) =>
        {
            var stored = await temporal.GetInstanceAsync(s, id, attribute, instanceId, ct).ConfigureAwait(false);
            if (stored is null)
            {
                return false;
            }

            var instance = JsonNode.Parse(stored.Instance)!.AsObject();
            foreach (var (key, node) in fragment)
            {
                instance[key] = node?.DeepClone();
            }

            var merged = HistoryDiff.RowOf(id, attribute, instance, now);
            var row = merged with
            {
                DatasetId = stored.DatasetId,
                ObservedAt = fragment.ContainsKey(Names.ObservedAt) ? merged.ObservedAt : stored.ObservedAt,
                CreatedAt = stored.CreatedAt,
                ModifiedAt = now,
                DeletedAt = stored.DeletedAt,
            };
            return await temporal.ReplaceInstanceAsync(s, id, attribute, instanceId, row, ct).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
        if (!found)
        {
            throw InstanceNotFound(id, attribute, instanceId);
        }
    }

    /// <summary>Delete Attribute instance (§5.6.15).</summary>
    public async Task DeleteInstanceAsync(string tenant, string id, string attribute, long instanceId, CancellationToken cancellationToken)
    {
        var temporal = Temporal;
        await EnsureTenantAsync(tenant, cancellationToken).ConfigureAwait(false);
        if (!await _store.WriteAsync(tenant, createTenant: false, (s, ct) => temporal.DeleteInstanceAsync(s, id, attribute, instanceId, ct), cancellationToken).ConfigureAwait(false))
        {
            throw InstanceNotFound(id, attribute, instanceId);
        }
    }

    /// <summary>Delete Attribute from Temporal Representation (§5.6.13): default instances, one datasetId, or all.</summary>
    public async Task DeleteAttributeAsync(string tenant, string id, string attribute, string? datasetId, bool all, CancellationToken cancellationToken)
    {
        var temporal = Temporal;
        await EnsureTenantAsync(tenant, cancellationToken).ConfigureAwait(false);
        var deleted = await _store.WriteAsync(tenant, createTenant: false, (s, ct) => temporal.DeleteAttributeAsync(s, id, attribute, datasetId, all, ct), cancellationToken).ConfigureAwait(false);
        if (deleted == 0)
        {
            throw NgsiLdException.NotFound($"Entity '{id}' has no history of attribute '{attribute}'" + (datasetId is null || all ? "." : $" with datasetId '{datasetId}'."));
        }
    }

    /// <summary>Delete Temporal Representation of an Entity (§5.6.16): its whole history; the current entity stays.</summary>
    public async Task DeleteEntityAsync(string tenant, string id, CancellationToken cancellationToken)
    {
        var temporal = Temporal;
        await EnsureTenantAsync(tenant, cancellationToken).ConfigureAwait(false);
        if (!await _store.WriteAsync(tenant, createTenant: false, (s, ct) => temporal.DeleteEntityAsync(s, id, ct), cancellationToken).ConfigureAwait(false))
        {
            throw NgsiLdException.NotFound($"Entity '{id}' has no history.");
        }
    }

    private Task<bool> AppendRowsAsync(string tenant, bool createTenant, IReadOnlyList<TemporalEntityTypes> types, List<TemporalRow> rows, CancellationToken cancellationToken)
    {
        var temporal = Temporal;
        return _store.WriteAsync(tenant, createTenant, async (s, ct) =>
        {
            await temporal.AppendAsync(s, types, rows, ct).ConfigureAwait(false);
            return true;
        }, cancellationToken);
    }

    private static List<TemporalRow> RowsOf(string id, IReadOnlyDictionary<string, List<JsonObject>> instances, long now, HashSet<JsonObject>? skip)
    {
        var rows = new List<TemporalRow>();
        foreach (var (attribute, list) in instances)
        {
            foreach (var instance in list)
            {
                if (skip is null || !skip.Contains(instance))
                {
                    // A back-filled instance is recorded now, whatever timestamps the client sent.
                    rows.Add(HistoryDiff.RowOf(id, attribute, instance, now) with { CreatedAt = now, ModifiedAt = now });
                }
            }
        }

        return rows;
    }

    private async Task EnsureTenantAsync(string tenant, CancellationToken cancellationToken)
    {
        if (!await _store.TenantExistsAsync(tenant, cancellationToken).ConfigureAwait(false))
        {
            throw EntityService.TenantNotFound(tenant);
        }
    }

    private static NgsiLdException InstanceNotFound(string id, string attribute, long instanceId) =>
        NgsiLdException.NotFound($"Entity '{id}' has no instance '{TemporalIds.Format(instanceId)}' of attribute '{attribute}'.");

    private static string[] TypesOf(JsonObject entity) =>
        entity[Names.Type] is JsonArray array ? [.. array.Select(t => (string?)t).OfType<string>()] : [];
}

/// <summary>Instance ids as URIs: <c>urn:ngsi-ld:Instance:{n}</c>.</summary>
public static class TemporalIds
{
    private const string Prefix = "urn:ngsi-ld:Instance:";

    /// <summary>The URI of stored instance <paramref name="instanceId"/>.</summary>
    public static string Format(long instanceId) => Prefix + instanceId.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The stored id of an instanceId URI; null when it is not one this broker made.</summary>
    public static long? Parse(string text) =>
        text is not null && text.StartsWith(Prefix, StringComparison.Ordinal)
        && long.TryParse(text.AsSpan(Prefix.Length), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n)
            ? n
            : null;
}
