using CityOS.NgsiLd.Errors;

namespace CityOS.Broker;

/// <summary>The outcome of append/update attrs (§5.2.18 UpdateResult), attribute names expanded.</summary>
public sealed record UpdateResult(IReadOnlyList<string> Updated, IReadOnlyList<NotUpdated> NotUpdated)
{
    public bool Complete => NotUpdated.Count == 0;
}

/// <summary>An attribute that was not updated, and why.</summary>
public sealed record NotUpdated(string AttributeName, string Reason);

/// <summary>One entity of a batch request, parsed (or failed to parse) before the batch runs.</summary>
public sealed record BatchItem(string? EntityId, System.Text.Json.Nodes.JsonObject? Entity, NgsiLdException? Error);

/// <summary>The outcome of a batch operation (§5.2.16 BatchOperationResult).</summary>
public sealed class BatchResult
{
    public List<string> Success { get; } = [];

    public List<(string EntityId, NgsiLdException Error)> Errors { get; } = [];

    /// <summary>Ids of entities this batch created (upsert answers 201 with them).</summary>
    public List<string> Created { get; } = [];
}
