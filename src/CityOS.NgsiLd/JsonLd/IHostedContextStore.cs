namespace CityOS.NgsiLd.JsonLd;

/// <summary>A @context document kept by the broker (§5.13): hosted (POSTed by users) or implicitly created.</summary>
/// <param name="Id">The local id (the last segment of /ngsi-ld/v1/jsonldContexts/{id}).</param>
/// <param name="Kind">"Hosted" or "ImplicitlyCreated".</param>
/// <param name="Body">The JSON text of the document, <c>{"@context": …}</c>.</param>
/// <param name="CreatedAt">When it was added.</param>
public sealed record StoredContextDocument(string Id, string Kind, string Body, DateTimeOffset CreatedAt);

/// <summary>Durable storage of hosted @context documents, so that an air-gapped city keeps them across restarts.</summary>
public interface IHostedContextStore
{
    Task<IReadOnlyList<StoredContextDocument>> ListAsync(CancellationToken cancellationToken);

    Task<StoredContextDocument?> GetAsync(string id, CancellationToken cancellationToken);

    /// <summary>Adds or replaces a document.</summary>
    Task PutAsync(StoredContextDocument document, CancellationToken cancellationToken);

    /// <summary>Removes a document; false when it did not exist.</summary>
    Task<bool> DeleteAsync(string id, CancellationToken cancellationToken);
}
