using System.Text.Json.Nodes;
using CityOS.NgsiLd.Errors;
using CityOS.NgsiLd.Model;

namespace CityOS.Broker;

/// <summary>Batch operations (§5.6.7–§5.6.10, §5.6.20): one transaction, items succeed or fail one by one, in array order.</summary>
public sealed partial class EntityService
{
    /// <summary>Batch Entity Creation: existing ids fail with AlreadyExists.</summary>
    public Task<BatchResult> BatchCreateAsync(string tenant, IReadOnlyList<BatchItem> items, CancellationToken cancellationToken)
    {
        var now = Now;
        return RunBatchAsync(tenant, items, createTenant: true, readUpFront: true, async (s, lookup, item, result, ct) =>
        {
            // An id the up-front read found is refused without an insert attempt (the insert would fail anyway).
            if (lookup.KnownToExist(item.EntityId!) || !await s.InsertAsync(Timestamps.Stamp(item.Entity!, now), ct))
            {
                throw new NgsiLdException(ErrorType.AlreadyExists, $"Entity '{item.EntityId}' already exists.");
            }
        }, cancellationToken);
    }

    /// <summary>
    /// Batch Entity Upsert: missing entities are created; existing ones are replaced (default) or, with
    /// <paramref name="updateMode"/>, have the sent attributes appended/overwritten.
    /// </summary>
    public Task<BatchResult> BatchUpsertAsync(string tenant, IReadOnlyList<BatchItem> items, bool updateMode, CancellationToken cancellationToken)
    {
        var now = Now;
        return RunBatchAsync(tenant, items, createTenant: true, readUpFront: true, async (s, lookup, item, result, ct) =>
        {
            var existing = await lookup.GetAsync(item.EntityId!, ct);
            if (existing is null)
            {
                await s.InsertAsync(Timestamps.Stamp(item.Entity!, now), ct);
                result.Created.Add(item.EntityId!);
                return;
            }

            var updated = updateMode
                ? EntityMerge.Append(existing, item.Entity!, noOverwrite: false, now).Entity
                : EntityMerge.Replace(existing, item.Entity!, now);
            await s.UpdateAsync(updated, ct);
        }, cancellationToken);
    }

    /// <summary>Batch Entity Update: each entity must exist; its attributes are appended (replaced whole) unless noOverwrite.</summary>
    public Task<BatchResult> BatchUpdateAsync(string tenant, IReadOnlyList<BatchItem> items, bool noOverwrite, CancellationToken cancellationToken)
    {
        var now = Now;
        return RunBatchAsync(tenant, items, createTenant: false, readUpFront: true, async (s, lookup, item, result, ct) =>
        {
            var existing = await lookup.GetAsync(item.EntityId!, ct) ?? throw EntityNotFound(item.EntityId!);
            var update = EntityMerge.Append(existing, item.Entity!, noOverwrite, now);
            if (update.Updated.Count > 0)
            {
                await s.UpdateAsync(update.Entity, ct);
            }
        }, cancellationToken);
    }

    /// <summary>Batch Entity Merge: each entity must exist and is deep-merged.</summary>
    public Task<BatchResult> BatchMergeAsync(string tenant, IReadOnlyList<BatchItem> items, CancellationToken cancellationToken)
    {
        var now = Now;
        return RunBatchAsync(tenant, items, createTenant: false, readUpFront: true, async (s, lookup, item, result, ct) =>
        {
            var existing = await lookup.GetAsync(item.EntityId!, ct) ?? throw EntityNotFound(item.EntityId!);
            await s.UpdateAsync(EntityMerge.Merge(existing, item.Entity!, now).Entity, ct);
        }, cancellationToken);
    }

    /// <summary>Batch Entity Delete: unknown ids fail with ResourceNotFound.</summary>
    public Task<BatchResult> BatchDeleteAsync(string tenant, IReadOnlyList<BatchItem> items, CancellationToken cancellationToken) =>
        RunBatchAsync(tenant, items, createTenant: false, readUpFront: false, async (s, _, item, result, ct) =>
        {
            if (!await s.DeleteAsync(item.EntityId!, ct))
            {
                throw EntityNotFound(item.EntityId!);
            }
        }, cancellationToken);

    private Task<BatchResult> RunBatchAsync(
        string tenant,
        IReadOnlyList<BatchItem> items,
        bool createTenant,
        bool readUpFront,
        Func<Storage.IEntityWriteSession, BatchLookup, BatchItem, BatchResult, CancellationToken, ValueTask> apply,
        CancellationToken cancellationToken)
    {
        // Every valid id once: the store reads (and locks) them all in one go before the first item runs, instead
        // of one lookup per item (one round trip each on a networked store). Delete reads nothing.
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var item in items)
        {
            if (item.Error is null)
            {
                ids.Add(item.EntityId!);
            }
        }

        // The result is built inside the work: a store may run the work again after a transient conflict
        // (e.g. a deadlock between two batches), and a retry must not add to a previous attempt's result.
        return WriteAsync(tenant, createTenant, async (s, ct) =>
        {
            var lookup = readUpFront && ids.Count > 0
                ? new BatchLookup(s, await s.GetManyAsync(ids, ct))
                : new BatchLookup(s, null);
            var result = new BatchResult();
            foreach (var item in items)
            {
                if (item.Error is not null)
                {
                    result.Errors.Add((item.EntityId ?? string.Empty, item.Error));
                    continue;
                }

                try
                {
                    // Every item writes at most once, at its end, so a failing item leaves nothing behind.
                    await apply(s, lookup, item, result, ct);
                    result.Success.Add(item.EntityId!);
                }
                catch (NgsiLdException e)
                {
                    result.Errors.Add((item.EntityId!, e));
                }
                finally
                {
                    lookup.Touched(item.EntityId!);
                }
            }

            return result;
        }, cancellationToken);
    }

    /// <summary>
    /// The entities a batch read up front, for the items that come first with their id. Once an item of an id
    /// has run (whether it wrote or failed), later items of the same id read through the session, which sees
    /// that write; the up-front copy is then stale (and may have been changed in place by a merge).
    /// </summary>
    private sealed class BatchLookup(Storage.IEntityWriteSession session, IReadOnlyDictionary<string, JsonObject>? upFront)
    {
        private readonly HashSet<string> _touched = new(StringComparer.Ordinal);

        /// <summary>The entity as it stands in the transaction, or null.</summary>
        public ValueTask<JsonObject?> GetAsync(string id, CancellationToken cancellationToken) =>
            upFront is null || _touched.Contains(id)
                ? session.GetAsync(id, cancellationToken)
                : ValueTask.FromResult(upFront.GetValueOrDefault(id));

        /// <summary>True when the up-front read found the id and no item of it has run since.</summary>
        public bool KnownToExist(string id) => upFront is not null && !_touched.Contains(id) && upFront.ContainsKey(id);

        public void Touched(string id) => _touched.Add(id);
    }
}
