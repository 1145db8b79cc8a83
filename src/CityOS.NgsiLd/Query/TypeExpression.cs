using System.Text.Json.Nodes;
using CityOS.NgsiLd.JsonLd;

namespace CityOS.NgsiLd.Query;

/// <summary>An entity-type selector: <c>A,B</c>, <c>A|B</c>, <c>(A;B)|C</c> (§4.17), names expanded.</summary>
public abstract record TypeExpression
{
    /// <summary>Every type IRI the expression names (for index look-ups).</summary>
    public abstract IReadOnlyCollection<string> Types { get; }

    /// <summary>True when an entity with these (expanded) types satisfies the expression.</summary>
    public abstract bool Matches(JsonArray entityTypes);
}

/// <summary>Parses type expressions. STUB.</summary>
public static class TypeExpressionParser
{
    public static TypeExpression Parse(string expression, LdContext context) =>
        throw new NotSupportedException("type expressions not implemented yet");
}
