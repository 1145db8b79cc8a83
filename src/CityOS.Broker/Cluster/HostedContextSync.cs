using System.Text.Json;
using CityOS.NgsiLd.JsonLd;

namespace CityOS.Broker.Cluster;

/// <summary>
/// Keeps the hosted @contexts of every node alike: changes through <see cref="Store"/> are announced on
/// <see cref="Channel"/>, and announcements from other nodes make the local <see cref="ContextRegistry"/>
/// read the changed document again (or everything, after a resync).
/// </summary>
public static class HostedContextSync
{
    /// <summary>The cluster channel of hosted @context changes; the payload is <c>{"id":"…"}</c>.</summary>
    public const string Channel = "contexts";

    /// <summary>Wraps <paramref name="inner"/> so that every change it makes is published on <see cref="Channel"/>.</summary>
    public static IHostedContextStore Store(IHostedContextStore inner, IClusterEvents events) => new PublishingStore(inner, events);

    /// <summary>Applies other nodes' changes to <paramref name="registry"/> until the handle is disposed.</summary>
    public static IDisposable Follow(IClusterEvents events, ContextRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(events);
        ArgumentNullException.ThrowIfNull(registry);
        return events.Subscribe(Channel, async (e, cancellationToken) =>
        {
            if (e.IsResync)
            {
                await registry.SynchronizeAsync(cancellationToken).ConfigureAwait(false);
            }
            else if (!e.IsLocal)
            {
                await registry.RefreshAsync(ReadId(e.Payload), cancellationToken).ConfigureAwait(false);
            }
        });
    }

    private static string ReadId(string payload)
    {
        using var document = JsonDocument.Parse(payload);
        return document.RootElement.GetProperty("id").GetString() ?? throw new JsonException("A context change names no id.");
    }

    private static string Payload(string id) => JsonSerializer.Serialize(new Dictionary<string, string> { ["id"] = id });

    private sealed class PublishingStore(IHostedContextStore inner, IClusterEvents events) : IHostedContextStore
    {
        public Task<IReadOnlyList<StoredContextDocument>> ListAsync(CancellationToken cancellationToken) => inner.ListAsync(cancellationToken);

        public Task<StoredContextDocument?> GetAsync(string id, CancellationToken cancellationToken) => inner.GetAsync(id, cancellationToken);

        public async Task PutAsync(StoredContextDocument document, CancellationToken cancellationToken)
        {
            ArgumentNullException.ThrowIfNull(document);
            await inner.PutAsync(document, cancellationToken).ConfigureAwait(false);

            // After the commit, so that a node hearing of it reads the new document.
            await events.PublishAsync(Channel, Payload(document.Id), cancellationToken).ConfigureAwait(false);
        }

        public async Task<bool> DeleteAsync(string id, CancellationToken cancellationToken)
        {
            var deleted = await inner.DeleteAsync(id, cancellationToken).ConfigureAwait(false);
            await events.PublishAsync(Channel, Payload(id), cancellationToken).ConfigureAwait(false);
            return deleted;
        }
    }
}
