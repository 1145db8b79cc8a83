using System.Globalization;
using System.Text.Json;
using CityOS.Broker.Storage;

namespace CityOS.Server.Transfer;

/// <summary>Writes tenants' entities as NDJSON (docs/export-format.md), streaming: one entity in memory at a time.</summary>
internal static class EntityExporter
{
    private static readonly byte[] NewLine = "\n"u8.ToArray();

    /// <summary>
    /// Writes the header and every entity of <paramref name="tenants"/> (all tenants when empty), tenant by
    /// tenant in creation order. A named tenant that does not exist fails before anything is written.
    /// </summary>
    public static async Task<TransferSummary> ExportAsync(
        IEntityStore store,
        Stream output,
        IReadOnlyCollection<string> tenants,
        DateTimeOffset createdAt,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(tenants);
        IReadOnlyCollection<string> selected = tenants.Count > 0
            ? [.. tenants.Distinct(StringComparer.Ordinal)]
            : await store.ListTenantsAsync(cancellationToken).ConfigureAwait(false);
        foreach (var tenant in selected)
        {
            if (!await store.TenantExistsAsync(tenant, cancellationToken).ConfigureAwait(false))
            {
                throw new InvalidOperationException($"the tenant '{tenant}' does not exist");
            }
        }

        await using var writer = new Utf8JsonWriter(output);
        writer.WriteStartObject();
        writer.WriteString("format", ExportFormat.Name);
        writer.WriteNumber("version", ExportFormat.Version);
        writer.WriteString("createdAt", createdAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture));
        writer.WriteString("source", store.Name);
        writer.WriteStartArray("tenants");
        foreach (var tenant in selected)
        {
            writer.WriteStringValue(tenant);
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
        await EndLineAsync(writer, output, cancellationToken).ConfigureAwait(false);

        long entities = 0;
        foreach (var tenant in selected)
        {
            await foreach (var entity in store.ExportEntitiesAsync(tenant, cancellationToken).ConfigureAwait(false))
            {
                writer.WriteStartObject();
                writer.WriteString("tenant", tenant);
                writer.WritePropertyName("entity");
                entity.WriteTo(writer);
                writer.WriteEndObject();
                await EndLineAsync(writer, output, cancellationToken).ConfigureAwait(false);
                entities++;
            }
        }

        await output.FlushAsync(cancellationToken).ConfigureAwait(false);
        return new TransferSummary(selected.Count, entities, 0, 0);
    }

    /// <summary>Ends one NDJSON line; the writer then starts a new top-level value.</summary>
    private static async Task EndLineAsync(Utf8JsonWriter writer, Stream output, CancellationToken cancellationToken)
    {
        await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        await output.WriteAsync(NewLine, cancellationToken).ConfigureAwait(false);
        writer.Reset();
    }
}

/// <summary>How many tenants and entities an export or import handled (created and replaced: import only).</summary>
internal sealed record TransferSummary(int Tenants, long Entities, long Created, long Replaced);
