using System.Text.Json;
using System.Text.Json.Nodes;
using CityOS.NgsiLd.Errors;

namespace CityOS.NgsiLd.Query;

/// <summary>
/// A parsed scopeQ (§4.19): <c>/a/b</c>, <c>/a/#</c>, <c>/a/+/c</c>, <c>/#</c>, with <c>;</c>, <c>|</c>, parentheses.
/// Node kinds: <see cref="ScopePattern"/>, <see cref="ScopeAnd"/>, <see cref="ScopeOr"/>.
/// </summary>
public abstract record ScopeExpression
{
    /// <summary>True when the entity's scopes (may be null) satisfy the expression; no scopes match nothing.</summary>
    public abstract bool Matches(JsonArray? scopes);
}

/// <summary>
/// One scope pattern, matched by an entity when any of its scopes matches. Segments are compared
/// exactly; <c>+</c> stands for one segment; a final <c>#</c> for zero or more further segments
/// (<c>/#</c> alone: any non-empty scope). A leading <c>/</c> is optional on both sides.
/// </summary>
public sealed record ScopePattern : ScopeExpression
{
    private readonly string[] _segments;

    internal ScopePattern(string pattern, string[] segments)
    {
        Pattern = pattern;
        _segments = segments;
    }

    /// <summary>The pattern as written.</summary>
    public string Pattern { get; }

    /// <summary>The pattern's segments (<c>+</c> and <c>#</c> included as written).</summary>
    public IReadOnlyList<string> Segments => _segments;

    /// <summary>True when the pattern has no wildcard, so it selects one scope exactly.</summary>
    public bool IsExact => Array.IndexOf(_segments, "+") < 0 && Array.IndexOf(_segments, "#") < 0;

    /// <inheritdoc />
    public override bool Matches(JsonArray? scopes)
    {
        if (scopes is null)
        {
            return false;
        }

        for (var i = 0; i < scopes.Count; i++)
        {
            if (scopes[i] is JsonValue value && value.GetValueKind() == JsonValueKind.String
                && value.TryGetValue<string>(out var text) && MatchesScope(text))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>True when one scope string matches this pattern.</summary>
    public bool MatchesScope(string scope)
    {
        ArgumentNullException.ThrowIfNull(scope);
        var rest = scope.AsSpan().Trim('/');
        for (var k = 0; k < _segments.Length; k++)
        {
            var pattern = _segments[k];
            if (pattern == "#")
            {
                // "/a/#" includes "/a" itself; "/#" alone needs some scope.
                return k > 0 || !rest.IsEmpty;
            }

            if (rest.IsEmpty)
            {
                return false;
            }

            var slash = rest.IndexOf('/');
            var segment = slash < 0 ? rest : rest[..slash];
            if (pattern != "+" && !segment.SequenceEqual(pattern))
            {
                return false;
            }

            rest = slash < 0 ? [] : rest[(slash + 1)..];
        }

        return rest.IsEmpty;
    }
}

/// <summary>Every operand matches (each may be satisfied by a different scope of the entity).</summary>
public sealed record ScopeAnd : ScopeExpression
{
    private readonly ScopeExpression[] _operands;

    /// <summary>Creates a conjunction.</summary>
    public ScopeAnd(IReadOnlyList<ScopeExpression> operands)
    {
        ArgumentNullException.ThrowIfNull(operands);
        _operands = [.. operands];
    }

    /// <summary>The operands.</summary>
    public IReadOnlyList<ScopeExpression> Operands => _operands;

    /// <inheritdoc />
    public override bool Matches(JsonArray? scopes)
    {
        foreach (var operand in _operands)
        {
            if (!operand.Matches(scopes))
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>Any operand matches.</summary>
public sealed record ScopeOr : ScopeExpression
{
    private readonly ScopeExpression[] _operands;

    /// <summary>Creates a disjunction.</summary>
    public ScopeOr(IReadOnlyList<ScopeExpression> operands)
    {
        ArgumentNullException.ThrowIfNull(operands);
        _operands = [.. operands];
    }

    /// <summary>The operands.</summary>
    public IReadOnlyList<ScopeExpression> Operands => _operands;

    /// <inheritdoc />
    public override bool Matches(JsonArray? scopes)
    {
        foreach (var operand in _operands)
        {
            if (operand.Matches(scopes))
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>Parses scopeQ (§4.19): <c>|</c> and <c>,</c> OR, <c>;</c> AND (binding tighter), parentheses.</summary>
public static class ScopeQueryParser
{
    /// <summary>Longest scopeQ accepted, in characters.</summary>
    public const int MaxLength = 4096;

    /// <summary>Deepest parenthesis nesting accepted.</summary>
    public const int MaxDepth = 16;

    /// <summary>Parses <paramref name="scopeQ"/>; throws <see cref="NgsiLdException"/> (BadRequestData) when malformed.</summary>
    public static ScopeExpression Parse(string scopeQ)
    {
        ArgumentNullException.ThrowIfNull(scopeQ);
        return SelectorParser<ScopeExpression>.Parse(
            scopeQ,
            "scopeQ",
            MaxLength,
            MaxDepth,
            (pattern, position) => new ScopePattern(pattern, Segments(pattern, position)),
            operands => new ScopeAnd(operands),
            operands => new ScopeOr(operands));
    }

    private static string[] Segments(string pattern, int start)
    {
        var body = pattern.StartsWith('/') ? pattern[1..] : pattern;
        if (body.Length == 0)
        {
            throw SelectorParser<ScopeExpression>.Error("scopeQ", "'/' alone is not a scope (use '/#' for any scope)", start);
        }

        var segments = body.Split('/');
        for (var i = 0; i < segments.Length; i++)
        {
            var segment = segments[i];
            if (segment.Length == 0)
            {
                throw SelectorParser<ScopeExpression>.Error("scopeQ", $"empty segment in scope '{pattern}'", start);
            }

            if (segment == "#" && i != segments.Length - 1)
            {
                throw SelectorParser<ScopeExpression>.Error("scopeQ", $"'#' must be the last segment in '{pattern}'", start);
            }

            if (segment.Length > 1 && (segment.Contains('#', StringComparison.Ordinal) || segment.Contains('+', StringComparison.Ordinal)))
            {
                throw SelectorParser<ScopeExpression>.Error("scopeQ", $"'+' and '#' must stand alone as a segment in '{pattern}'", start);
            }
        }

        return segments;
    }
}
