using CityOS.Broker.Storage;

namespace CityOS.Server.Transfer;

/// <summary>
/// Reads an NDJSON export (docs/export-format.md) into a store in two streaming passes over the file: the
/// first checks every line (and, with <see cref="ImportMode.Create"/>, that no entity exists yet) without
/// writing; the second writes the whole file, every tenant, in one store transaction.
/// </summary>
internal static class EntityImporter
{
    /// <summary>
    /// Imports <paramref name="path"/> as one unit: either every entity and tenant of the file is stored, or
    /// (on any failure, in either pass) the store is left as it was. A faulty file throws
    /// <see cref="ImportFileException"/> before anything is written. Entities of one tenant must be consecutive
    /// lines (as export writes them), so that the check keeps the ids of one tenant only.
    /// </summary>
    public static async Task<TransferSummary> ImportAsync(IEntityStore store, string path, ImportMode mode, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(path);
        var header = await ValidateAsync(store, path, mode, cancellationToken).ConfigureAwait(false);
        var (created, replaced) = await store.WriteTenantsAsync(
            async (sessions, token) =>
            {
                // Opened afresh by every attempt: a store may run this work again after a transient conflict,
                // and a retry must start from the first line, not where the failed attempt stopped.
                using var file = ImportFile.Open(path);
                await file.ReadHeaderAsync(token).ConfigureAwait(false);

                long c = 0;
                long r = 0;
                while (await file.ReadAsync(token).ConfigureAwait(false) is { } line)
                {
                    var session = await sessions.ForTenantAsync(line.Tenant, createTenant: true, token).ConfigureAwait(false);
                    if (await session.InsertAsync(line.Entity, token).ConfigureAwait(false))
                    {
                        c++;
                    }
                    else if (mode == ImportMode.Upsert)
                    {
                        await session.UpdateAsync(line.Entity, token).ConfigureAwait(false);
                        r++;
                    }
                    else
                    {
                        // Only when another writer created it after the check: the whole file rolls back.
                        throw new ImportFileException(line.Number, $"the entity '{line.Id}' already exists in tenant '{line.Tenant}'");
                    }
                }

                // Tenants exported without entities exist after the import too, and like the rest only if it commits.
                foreach (var tenant in header.Tenants)
                {
                    await sessions.ForTenantAsync(tenant, createTenant: true, token).ConfigureAwait(false);
                }

                return (c, r);
            },
            cancellationToken).ConfigureAwait(false);

        return new TransferSummary(header.Tenants.Count, created + replaced, created, replaced);
    }

    /// <summary>
    /// The first pass: every line parses and has the internal form, tenants are listed in the header and
    /// their lines are consecutive, no id repeats within a tenant, and with <see cref="ImportMode.Create"/>
    /// no entity already exists in the store. Memory: the ids of one tenant.
    /// </summary>
    public static async Task<ImportHeader> ValidateAsync(IEntityStore store, string path, ImportMode mode, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        using var file = ImportFile.Open(path);
        var header = await file.ReadHeaderAsync(cancellationToken).ConfigureAwait(false);
        var listed = new HashSet<string>(header.Tenants, StringComparer.Ordinal);
        var finished = new HashSet<string>(StringComparer.Ordinal);
        var ids = new HashSet<string>(StringComparer.Ordinal);
        string? current = null;
        var currentExists = false;
        while (await file.ReadAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            if (line.Tenant != current)
            {
                if (!listed.Contains(line.Tenant))
                {
                    throw file.Fault($"the tenant '{line.Tenant}' is not listed in the header");
                }

                if (current is not null)
                {
                    finished.Add(current);
                }

                if (finished.Contains(line.Tenant))
                {
                    throw file.Fault($"the entities of tenant '{line.Tenant}' are not on consecutive lines");
                }

                current = line.Tenant;
                ids.Clear();
                currentExists = await store.TenantExistsAsync(current, cancellationToken).ConfigureAwait(false);
            }

            if (!ids.Add(line.Id))
            {
                throw file.Fault($"the entity '{line.Id}' appears twice in tenant '{line.Tenant}'");
            }

            if (mode == ImportMode.Create && currentExists
                && await store.GetEntityAsync(line.Tenant, line.Id, cancellationToken).ConfigureAwait(false) is not null)
            {
                throw file.Fault($"the entity '{line.Id}' already exists in tenant '{line.Tenant}' (--mode upsert replaces it)");
            }
        }

        return header;
    }
}
