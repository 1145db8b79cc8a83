using System.Text.Json;
using System.Text.Json.Nodes;
using CityOS.NgsiLd.Errors;
using CityOS.NgsiLd.JsonLd;

namespace CityOS.NgsiLd.Query;

/// <summary>
/// An entity-type selector: <c>A,B</c>, <c>A|B</c>, <c>(A;B)|C</c> (§4.17), names expanded.
/// Node kinds: <see cref="TypeName"/>, <see cref="AnyType"/>, <see cref="TypeAnd"/>, <see cref="TypeOr"/>.
/// </summary>
public abstract record TypeExpression
{
    /// <summary>
    /// Every type IRI the expression names (for index look-ups), without duplicates; <c>*</c> names none,
    /// so an empty list together with a match-all expression means "any type".
    /// </summary>
    public abstract IReadOnlyCollection<string> Types { get; }

    /// <summary>True when an entity with these (expanded) types satisfies the expression.</summary>
    public abstract bool Matches(JsonArray entityTypes);
}

/// <summary>The entity has this type.</summary>
public sealed record TypeName(string Iri) : TypeExpression
{
    /// <inheritdoc />
    public override IReadOnlyCollection<string> Types { get; } = [Iri];

    /// <inheritdoc />
    public override bool Matches(JsonArray entityTypes)
    {
        ArgumentNullException.ThrowIfNull(entityTypes);
        for (var i = 0; i < entityTypes.Count; i++)
        {
            if (entityTypes[i] is JsonValue value && Equal(value, Iri))
            {
                return true;
            }
        }

        return false;
    }

    private static bool Equal(JsonValue value, string iri) =>
        value.TryGetValue<JsonElement>(out var element)
            ? element.ValueKind == JsonValueKind.String && element.ValueEquals(iri)
            : value.TryGetValue<string>(out var text) && string.Equals(text, iri, StringComparison.Ordinal);
}

/// <summary><c>*</c>: any entity type.</summary>
public sealed record AnyType : TypeExpression
{
    /// <inheritdoc />
    public override IReadOnlyCollection<string> Types => [];

    /// <inheritdoc />
    public override bool Matches(JsonArray entityTypes) => true;
}

/// <summary>All operands match (<c>(A;B)</c>: the entity has both types).</summary>
public sealed record TypeAnd : TypeExpression
{
    private readonly TypeExpression[] _operands;

    /// <summary>Creates a conjunction.</summary>
    public TypeAnd(IReadOnlyList<TypeExpression> operands)
    {
        ArgumentNullException.ThrowIfNull(operands);
        _operands = [.. operands];
        Types = TypeOr.Collect(_operands);
    }

    /// <summary>The operands.</summary>
    public IReadOnlyList<TypeExpression> Operands => _operands;

    /// <inheritdoc />
    public override IReadOnlyCollection<string> Types { get; }

    /// <inheritdoc />
    public override bool Matches(JsonArray entityTypes)
    {
        foreach (var operand in _operands)
        {
            if (!operand.Matches(entityTypes))
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>Any operand matches (<c>A,B</c> or <c>A|B</c>).</summary>
public sealed record TypeOr : TypeExpression
{
    private readonly TypeExpression[] _operands;

    /// <summary>Creates a disjunction.</summary>
    public TypeOr(IReadOnlyList<TypeExpression> operands)
    {
        ArgumentNullException.ThrowIfNull(operands);
        _operands = [.. operands];
        Types = Collect(_operands);
    }

    /// <summary>The operands.</summary>
    public IReadOnlyList<TypeExpression> Operands => _operands;

    /// <inheritdoc />
    public override IReadOnlyCollection<string> Types { get; }

    /// <inheritdoc />
    public override bool Matches(JsonArray entityTypes)
    {
        foreach (var operand in _operands)
        {
            if (operand.Matches(entityTypes))
            {
                return true;
            }
        }

        return false;
    }

    internal static string[] Collect(TypeExpression[] operands)
    {
        var seen = new List<string>();
        foreach (var operand in operands)
        {
            foreach (var type in operand.Types)
            {
                if (!seen.Contains(type))
                {
                    seen.Add(type);
                }
            }
        }

        return [.. seen];
    }
}

/// <summary>Parses type expressions (§4.17): <c>,</c> and <c>|</c> OR, <c>;</c> AND (binding tighter), parentheses.</summary>
public static class TypeExpressionParser
{
    /// <summary>Longest expression accepted, in characters.</summary>
    public const int MaxLength = 4096;

    /// <summary>Deepest parenthesis nesting accepted.</summary>
    public const int MaxDepth = 16;

    /// <summary>
    /// Parses <paramref name="expression"/>, expanding every name with <paramref name="context"/>.
    /// Throws <see cref="NgsiLdException"/> (BadRequestData) on a malformed expression.
    /// </summary>
    public static TypeExpression Parse(string expression, LdContext context)
    {
        ArgumentNullException.ThrowIfNull(expression);
        ArgumentNullException.ThrowIfNull(context);
        return SelectorParser<TypeExpression>.Parse(
            expression,
            "type expression",
            MaxLength,
            MaxDepth,
            (name, position) => name == "*"
                ? new AnyType()
                : char.IsLetter(name[0]) || name[0] == '_'
                    ? new TypeName(context.ExpandTerm(name))
                    : throw SelectorParser<TypeExpression>.Error("type expression", $"'{name}' is not a valid type name", position),
            operands => new TypeAnd(operands),
            operands => new TypeOr(operands));
    }
}
