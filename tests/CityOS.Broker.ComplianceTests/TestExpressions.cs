using System.Text.Json.Nodes;
using CityOS.NgsiLd.Query;

namespace CityOS.Broker.ComplianceTests;

/// <summary>A type selector "A,B" (any of): stands in for the real parser's output in storage tests.</summary>
public sealed record AnyTypeOf : TypeExpression
{
    public AnyTypeOf(params string[] names) => Names = names;

    public IReadOnlyList<string> Names { get; }

    public override IReadOnlyCollection<string> Types => Names.ToArray();

    public override bool Matches(JsonArray entityTypes) =>
        entityTypes.Any(t => Names.Contains((string)t!, StringComparer.Ordinal));
}

/// <summary>A type selector "A;B" (all of): its index look-up yields a superset the store must narrow.</summary>
public sealed record AllTypesOf : TypeExpression
{
    public AllTypesOf(params string[] names) => Names = names;

    public IReadOnlyList<string> Names { get; }

    public override IReadOnlyCollection<string> Types => Names.ToArray();

    public override bool Matches(JsonArray entityTypes) =>
        Names.All(n => entityTypes.Any(t => string.Equals((string)t!, n, StringComparison.Ordinal)));
}

/// <summary>A q expression given as a predicate over the internal form.</summary>
public sealed record PredicateQ(Func<JsonObject, bool> Predicate) : QExpression
{
    public override bool Matches(JsonObject entity) => Predicate(entity);
}

/// <summary>A scopeQ "/prefix/#" stand-in: some scope starts with the prefix.</summary>
public sealed record ScopeUnder(string Prefix) : ScopeExpression
{
    public override bool Matches(JsonArray? scopes) =>
        scopes is not null && scopes.Any(s => ((string)s!).StartsWith(Prefix, StringComparison.Ordinal));
}
