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
        return RunBatchAsync(tenant, items, createTenant: true, async (s, item, result, ct) =>
        {
            var entity = Timestamps.Stamp(item.Entity!, now);
            if (!await s.InsertAsync(entity, ct))
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
        return RunBatchAsync(tenant, items, createTenant: true, async (s, item, result, ct) =>
        {
            var existing = await s.GetAsync(item.EntityId!, ct);
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
        return RunBatchAsync(tenant, items, createTenant: false, async (s, item, result, ct) =>
        {
            var existing = await s.GetAsync(item.EntityId!, ct) ?? throw EntityNotFound(item.EntityId!);
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
        return RunBatchAsync(tenant, items, createTenant: false, async (s, item, result, ct) =>
        {
            var existing = await s.GetAsync(item.EntityId!, ct) ?? throw EntityNotFound(item.EntityId!);
            await s.UpdateAsync(EntityMerge.Merge(existing, item.Entity!, now).Entity, ct);
        }, cancellationToken);
    }

    /// <summary>Batch Entity Delete: unknown ids fail with ResourceNotFound.</summary>
    public Task<BatchResult> BatchDeleteAsync(string tenant, IReadOnlyList<BatchItem> items, CancellationToken cancellationToken) =>
        RunBatchAsync(tenant, items, createTenant: false, async (s, item, result, ct) =>
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
        Func<Storage.IEntityWriteSession, BatchItem, BatchResult, CancellationToken, ValueTask> apply,
        CancellationToken cancellationToken)
    {
        // The result is built inside the work: a store may run the work again after a transient conflict
        // (e.g. a deadlock between two batches), and a retry must not add to a previous attempt's result.
        return WriteAsync(tenant, createTenant, async (s, ct) =>
        {
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
                    await apply(s, item, result, ct);
                    result.Success.Add(item.EntityId!);
                }
                catch (NgsiLdException e)
                {
                    result.Errors.Add((item.EntityId!, e));
                }
            }

            return result;
        }, cancellationToken);
    }
}
