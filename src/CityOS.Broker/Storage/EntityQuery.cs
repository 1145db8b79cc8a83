using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using CityOS.NgsiLd.Errors;
using CityOS.NgsiLd.Geo;
using CityOS.NgsiLd.Model;
using CityOS.NgsiLd.Query;

namespace CityOS.Broker.Storage;

/// <summary>
/// A query over one tenant's entities, with every name already expanded. Null members do not filter.
/// <see cref="Matches"/> is the reference semantics; stores may push parts down but must agree with it.
/// </summary>
public sealed record EntityQuery
{
    public IReadOnlyList<string>? Ids { get; init; }

    public Regex? IdPattern { get; init; }

    public TypeExpression? Type { get; init; }

    /// <summary>attrs=: entities holding at least one of these attribute IRIs.</summary>
    public IReadOnlyList<string>? Attrs { get; init; }

    public QExpression? Q { get; init; }

    public ScopeExpression? ScopeQ { get; init; }

    public GeoQuery? Geo { get; init; }

    public int Offset { get; init; }

    public int Limit { get; init; } = 20;

    public bool Count { get; init; }

    /// <summary>
    /// True when <paramref name="id"/> matches <see cref="IdPattern"/> (or there is none). A match that runs past
    /// the pattern's time limit (catastrophic backtracking) is the client's error: 400 BadRequestData, not a 500.
    /// </summary>
    public bool MatchesIdPattern(string id)
    {
        if (IdPattern is null)
        {
            return true;
        }

        try
        {
            return IdPattern.IsMatch(id);
        }
        catch (RegexMatchTimeoutException)
        {
            throw NgsiLdException.BadRequest("idPattern takes too long to evaluate (catastrophic backtracking); simplify the pattern.");
        }
    }

    /// <summary>True when the entity satisfies every filter of this query.</summary>
    public bool Matches(JsonObject entity)
    {
        ArgumentNullException.ThrowIfNull(entity);
        if (Ids is { Count: > 0 } && !Ids.Contains((string)entity[Names.Id]!, StringComparer.Ordinal))
        {
            return false;
        }

        if (!MatchesIdPattern((string)entity[Names.Id]!))
        {
            return false;
        }

        if (Type is not null && !Type.Matches(entity[Names.Type]!.AsArray()))
        {
            return false;
        }

        if (Attrs is { Count: > 0 } && !Attrs.Any(entity.ContainsKey))
        {
            return false;
        }

        if (ScopeQ is not null && !ScopeQ.Matches(entity[Names.Scope] as JsonArray))
        {
            return false;
        }

        if (Q is not null && !Q.Matches(entity))
        {
            return false;
        }

        return Geo is null || Geo.Matches(entity);
    }
}
