using System.Text.Json.Nodes;

namespace CityOS.NgsiLd.Model;

/// <summary>An attribute an update could not apply, with the reason (UpdateResult.notUpdated, §5.2.18).</summary>
public sealed record NotUpdatedDetail(string AttributeIri, string Reason);

/// <summary>The outcome of an <see cref="EntityMerge"/> operation: the new entity and what changed in it.</summary>
public sealed class EntityUpdate
{
    private readonly List<string> _updated = [];
    private readonly List<string> _created = [];
    private readonly List<string> _deleted = [];
    private readonly List<string> _contentChanged = [];
    private readonly List<NotUpdatedDetail> _notUpdated = [];

    internal EntityUpdate(JsonObject entity)
    {
        Entity = entity;
    }

    /// <summary>The updated entity (a new object; the input entity is left as it was).</summary>
    public JsonObject Entity { get; }

    /// <summary>Expanded names of the attributes written (created, replaced, merged or deleted), in fragment order.</summary>
    public IReadOnlyList<string> Updated => _updated;

    /// <summary>Attributes that did not exist before the update (a subset of <see cref="Updated"/>).</summary>
    public IReadOnlyList<string> Created => _created;

    /// <summary>Attributes that existed before and are gone after it (a subset of <see cref="Updated"/>).</summary>
    public IReadOnlyList<string> Deleted => _deleted;

    /// <summary>
    /// Attributes written whose content differs from before, system timestamps aside (a subset of
    /// <see cref="Updated"/>). Rewriting the same value is an update but not a change: on-change
    /// subscriptions fire only for these.
    /// </summary>
    public IReadOnlyList<string> ContentChanged => _contentChanged;

    /// <summary>Attributes of the fragment that were not applied, with the reason.</summary>
    public IReadOnlyList<NotUpdatedDetail> NotUpdated => _notUpdated;

    /// <summary>True when the fragment added an entity type.</summary>
    public bool TypesChanged { get; internal set; }

    /// <summary>True when the entity's scopes were replaced, extended or removed.</summary>
    public bool ScopeChanged { get; internal set; }

    /// <summary>True when the entity's expiresAt was set.</summary>
    public bool ExpiresAtChanged { get; internal set; }

    /// <summary>True when anything was written (the entity's modifiedAt was then set).</summary>
    public bool Changed => _updated.Count > 0 || TypesChanged || ScopeChanged || ExpiresAtChanged;

    internal void AddUpdated(string iri, bool created, bool deleted, bool contentChanged)
    {
        _updated.Add(iri);
        if (contentChanged)
        {
            _contentChanged.Add(iri);
        }

        if (created)
        {
            _created.Add(iri);
        }

        if (deleted)
        {
            _deleted.Add(iri);
        }
    }

    internal void AddNotUpdated(string iri, string reason) => _notUpdated.Add(new NotUpdatedDetail(iri, reason));
}
