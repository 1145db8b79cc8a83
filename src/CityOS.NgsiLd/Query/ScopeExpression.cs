using System.Text.Json.Nodes;

namespace CityOS.NgsiLd.Query;

/// <summary>A parsed scopeQ (§4.19): <c>/a/b</c>, <c>/a/#</c>, <c>/a/+/c</c>, <c>/#</c>, with <c>;</c>, <c>|</c>, parentheses.</summary>
public abstract record ScopeExpression
{
    /// <summary>True when the entity's scopes (may be null) satisfy the expression.</summary>
    public abstract bool Matches(JsonArray? scopes);
}

/// <summary>Parses scopeQ. STUB.</summary>
public static class ScopeQueryParser
{
    public static ScopeExpression Parse(string scopeQ) =>
        throw new NotSupportedException("scopeQ not implemented yet");
}
