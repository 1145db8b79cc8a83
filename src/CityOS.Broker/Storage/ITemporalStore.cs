namespace CityOS.Broker.Storage;

/// <summary>
/// The attribute history behind the NGSI-LD temporal API (§4.5.9, §5.6.11–§5.6.16, §5.7.3–§5.7.4), kept by the
/// same backend as the entities. Every write takes the store's own <see cref="IEntityWriteSession"/> (from
/// <see cref="IEntityStore.WriteAsync"/>), so history rows are committed, or rolled back, with the entity writes of
/// that transaction; the tenant is the session's. Times are microseconds since the Unix epoch (UTC). Every backend
/// must pass the temporal compliance suite in tests/CityOS.Broker.ComplianceTests.
/// </summary>
public interface ITemporalStore
{
    /// <summary>
    /// Appends attribute instances (each gets a new instance id) and records the types of the entities named, in the
    /// session's transaction. Meant to cost one statement: it runs on every entity write.
    /// </summary>
    ValueTask AppendAsync(IEntityWriteSession session, IReadOnlyList<TemporalEntityTypes> entities, IReadOnlyList<TemporalRow> rows, CancellationToken cancellationToken);

    /// <summary>One instance, read in the session's transaction; null when it is not there.</summary>
    ValueTask<StoredInstance?> GetInstanceAsync(IEntityWriteSession session, string entityId, string attribute, long instanceId, CancellationToken cancellationToken);

    /// <summary>Replaces the content and times of one instance (same id); false when the instance is not there.</summary>
    ValueTask<bool> ReplaceInstanceAsync(IEntityWriteSession session, string entityId, string attribute, long instanceId, TemporalRow row, CancellationToken cancellationToken);

    /// <summary>Deletes one instance; false when it is not there.</summary>
    ValueTask<bool> DeleteInstanceAsync(IEntityWriteSession session, string entityId, string attribute, long instanceId, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes the history of an attribute: the default instances (<paramref name="datasetId"/> null), those of one
    /// datasetId, or with <paramref name="all"/> every instance. Returns how many went.
    /// </summary>
    ValueTask<int> DeleteAttributeAsync(IEntityWriteSession session, string entityId, string attribute, string? datasetId, bool all, CancellationToken cancellationToken);

    /// <summary>Deletes an entity's whole history and its recorded types; false when there was none.</summary>
    ValueTask<bool> DeleteEntityAsync(IEntityWriteSession session, string entityId, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes up to <paramref name="max"/> instances of the session's tenant recorded (modifiedAt) before
    /// <paramref name="cutoff"/>, oldest first; returns how many went (retention; the caller repeats while it is max).
    /// </summary>
    ValueTask<int> PurgeAsync(IEntityWriteSession session, long cutoff, int max, CancellationToken cancellationToken);

    /// <summary>The types recorded for an entity's history (expanded IRIs), or null when the store holds no history of it.</summary>
    Task<IReadOnlyList<string>?> GetEntityTypesAsync(string tenant, string entityId, CancellationToken cancellationToken);

    /// <summary>Every attribute (expanded IRI) with at least one stored instance for the entity, in ordinal order.</summary>
    Task<IReadOnlyList<string>> GetAttributesAsync(string tenant, string entityId, CancellationToken cancellationToken);

    /// <summary>
    /// Up to <paramref name="limit"/> instances of one attribute inside <paramref name="window"/>, ordered by the
    /// window's time property: oldest first, or newest first with <paramref name="newestFirst"/> (lastN). Instances
    /// without a value for the time property never match.
    /// </summary>
    Task<IReadOnlyList<StoredInstance>> GetInstancesAsync(string tenant, string entityId, string attribute, TemporalWindow window, int limit, bool newestFirst, CancellationToken cancellationToken);

    /// <summary>
    /// Aggregates the numeric instances of one attribute inside <paramref name="window"/> (deletions excluded) in
    /// buckets of <paramref name="period"/> µs counted from <paramref name="origin"/> (period 0: one bucket), per datasetId,
    /// ordered by datasetId and bucket. <paramref name="distinct"/> asks for DistinctCount (a sort: only when wanted).
    /// </summary>
    Task<IReadOnlyList<AggregateBucket>> AggregateAsync(string tenant, string entityId, string attribute, TemporalWindow window, long period, long origin, bool distinct, CancellationToken cancellationToken);
}

/// <summary>Which instance timestamp a temporal query filters and orders on (timeproperty=).</summary>
public enum TemporalProperty
{
    /// <summary>observedAt (the default).</summary>
    ObservedAt,

    /// <summary>createdAt.</summary>
    CreatedAt,

    /// <summary>modifiedAt.</summary>
    ModifiedAt,

    /// <summary>deletedAt (only deletions have one).</summary>
    DeletedAt,
}

/// <summary>A time window on one time property: <see cref="From"/> inclusive, <see cref="To"/> exclusive, null = open.</summary>
public sealed record TemporalWindow(TemporalProperty Property, long? From, long? To)
{
    /// <summary>Every instance that has an observedAt.</summary>
    public static TemporalWindow All { get; } = new(TemporalProperty.ObservedAt, null, null);
}

/// <summary>An entity's types, recorded with its history so that it can be rendered after the entity is gone.</summary>
public sealed record TemporalEntityTypes(string EntityId, IReadOnlyList<string> Types);

/// <summary>
/// One attribute instance to store. <see cref="Instance"/> is the instance in the internal form as compact JSON
/// without createdAt, modifiedAt, observedAt, datasetId and instanceId (those are columns). <see cref="Number"/> is
/// the value as a number for aggregation (numbers; booleans as 1/0), else null.
/// </summary>
public sealed record TemporalRow(
    string EntityId,
    string Attribute,
    string? DatasetId,
    long? ObservedAt,
    long CreatedAt,
    long ModifiedAt,
    long? DeletedAt,
    double? Number,
    string Instance);

/// <summary>One stored instance as read back.</summary>
public sealed record StoredInstance(
    long InstanceId,
    string Attribute,
    string? DatasetId,
    long? ObservedAt,
    long CreatedAt,
    long ModifiedAt,
    long? DeletedAt,
    string Instance)
{
    /// <summary>The instance's time on <paramref name="property"/> (null when it has none).</summary>
    public long? TimeOf(TemporalProperty property) => property switch
    {
        TemporalProperty.CreatedAt => CreatedAt,
        TemporalProperty.ModifiedAt => ModifiedAt,
        TemporalProperty.DeletedAt => DeletedAt,
        _ => ObservedAt,
    };
}

/// <summary>
/// One aggregation bucket of one datasetId: <see cref="Bucket"/> is the bucket number (0 = the one starting at the
/// origin); Count and DistinctCount count every non-deleted instance, the rest only numeric ones; First and Last are
/// the earliest and latest instance times in it.
/// </summary>
public sealed record AggregateBucket(
    string? DatasetId,
    long Bucket,
    long First,
    long Last,
    long Count,
    long DistinctCount,
    long NumericCount,
    double Sum,
    double SumOfSquares,
    double? Min,
    double? Max);
