using System.Collections.Concurrent;
using CityOS.NgsiLd.JsonLd;

namespace CityOS.NgsiLd.Tests.JsonLd;

/// <summary>A test double of the durable store; the SQLite one has its own tests.</summary>
internal sealed class InMemoryHostedContextStore : IHostedContextStore
{
    private readonly ConcurrentDictionary<string, StoredContextDocument> _documents = new();

    public IReadOnlyDictionary<string, StoredContextDocument> Documents => _documents;

    public Task<IReadOnlyList<StoredContextDocument>> ListAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<StoredContextDocument>>([.. _documents.Values]);

    public Task<StoredContextDocument?> GetAsync(string id, CancellationToken cancellationToken) =>
        Task.FromResult(_documents.GetValueOrDefault(id));

    public Task PutAsync(StoredContextDocument document, CancellationToken cancellationToken)
    {
        _documents[document.Id] = document;
        return Task.CompletedTask;
    }

    public Task<bool> DeleteAsync(string id, CancellationToken cancellationToken) =>
        Task.FromResult(_documents.TryRemove(id, out _));
}
