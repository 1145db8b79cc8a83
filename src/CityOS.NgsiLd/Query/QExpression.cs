using System.Text.Json.Nodes;
using CityOS.NgsiLd.JsonLd;

namespace CityOS.NgsiLd.Query;

/// <summary>
/// A parsed NGSI-LD q expression (§4.9), evaluated against the internal entity form.
/// </summary>
/// <remarks>
/// The tree is public so that a storage backend can translate what it understands (typically
/// <see cref="QComparison"/> on a <see cref="QPath.IsSimple"/> path with a <see cref="QLiteral"/> value,
/// combined with <see cref="QAnd"/> / <see cref="QOr"/>) into its own query language, and fall back to
/// <see cref="Matches"/> for the rest. Node kinds: <see cref="QAnd"/>, <see cref="QOr"/>,
/// <see cref="QExists"/>, <see cref="QAbsent"/>, <see cref="QComparison"/>.
/// Expressions are immutable and safe to share between threads, so a parsed q can be cached (e.g. per
/// subscription) and evaluated concurrently; evaluation allocates nothing for the common operators.
/// </remarks>
public abstract record QExpression
{
    /// <summary>True when the entity (internal expanded form) satisfies the expression.</summary>
    public abstract bool Matches(JsonObject entity);
}

/// <summary>All operands must match (<c>a;b</c>).</summary>
public sealed record QAnd : QExpression
{
    private readonly QExpression[] _operands;

    /// <summary>Creates a conjunction of at least one operand.</summary>
    public QAnd(IReadOnlyList<QExpression> operands)
    {
        ArgumentNullException.ThrowIfNull(operands);
        _operands = [.. operands];
    }

    /// <summary>The operands, in source order.</summary>
    public IReadOnlyList<QExpression> Operands => _operands;

    /// <inheritdoc />
    public override bool Matches(JsonObject entity)
    {
        foreach (var operand in _operands)
        {
            if (!operand.Matches(entity))
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>At least one operand must match (<c>a|b</c>).</summary>
public sealed record QOr : QExpression
{
    private readonly QExpression[] _operands;

    /// <summary>Creates a disjunction of at least one operand.</summary>
    public QOr(IReadOnlyList<QExpression> operands)
    {
        ArgumentNullException.ThrowIfNull(operands);
        _operands = [.. operands];
    }

    /// <summary>The operands, in source order.</summary>
    public IReadOnlyList<QExpression> Operands => _operands;

    /// <inheritdoc />
    public override bool Matches(JsonObject entity)
    {
        foreach (var operand in _operands)
        {
            if (operand.Matches(entity))
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>The path resolves to a value in at least one attribute instance (<c>attr</c>, <c>attr.sub</c>, <c>attr[key]</c>).</summary>
public sealed record QExists(QPath Path) : QExpression
{
    /// <inheritdoc />
    public override bool Matches(JsonObject entity) => QEvaluator.Exists(entity, Path);
}

/// <summary>
/// The path resolves in no attribute instance (<c>!attr</c>). Not in the §4.9 ABNF; an extension also
/// offered by Orion-LD and Stellio.
/// </summary>
public sealed record QAbsent(QPath Path) : QExpression
{
    /// <inheritdoc />
    public override bool Matches(JsonObject entity) => !QEvaluator.Exists(entity, Path);
}

/// <summary>
/// <c>path OP value</c>. <see cref="Value"/> is a <see cref="QLiteral"/> for every operator, a
/// <see cref="QRange"/> or <see cref="QValueList"/> only with <see cref="QOperator.Equal"/> /
/// <see cref="QOperator.NotEqual"/>, and a <see cref="QPattern"/> exactly for the two regex operators.
/// </summary>
/// <remarks>
/// Semantics (§4.9): <c>==</c> matches when the target equals the value, or the target is an array
/// containing it, or (list) equals any item, or (range) lies within the inclusive bounds; <c>!=</c> is its
/// negation but still requires the target to exist. Values of differing types never compare equal.
/// Ordering needs the same type (strings that both parse as DateTime, Date or Time compare temporally).
/// Regex operators only consider strings. Relationship and ListRelationship targets only answer
/// <c>==</c> / <c>!=</c> and compare as URIs; VocabProperty targets compare against the value expanded
/// with the request @context (<see cref="QLiteral.VocabIri"/>). A multi-instance attribute matches when
/// any instance does.
/// </remarks>
public sealed record QComparison(QPath Path, QOperator Operator, QValue Value) : QExpression
{
    /// <inheritdoc />
    public override bool Matches(JsonObject entity) => QEvaluator.Compare(entity, this);
}

/// <summary>The comparison operators of §4.9.</summary>
public enum QOperator
{
    /// <summary><c>==</c></summary>
    Equal,

    /// <summary><c>!=</c></summary>
    NotEqual,

    /// <summary><c>&gt;</c></summary>
    Greater,

    /// <summary><c>&gt;=</c></summary>
    GreaterOrEqual,

    /// <summary><c>&lt;</c></summary>
    Less,

    /// <summary><c>&lt;=</c></summary>
    LessOrEqual,

    /// <summary><c>~=</c> (regular-expression match)</summary>
    Matches,

    /// <summary><c>!~=</c> (regular-expression non-match)</summary>
    NotMatches,
}

/// <summary>
/// An attribute path, every attribute segment already expanded to its IRI.
/// <c>speed</c> → <c>Attribute</c> only; <c>speed.accuracy</c> → one sub-attribute;
/// <c>speed.observedAt</c> → <see cref="Member"/>; <c>address[city]</c> / <c>data[a.b]</c> →
/// <see cref="JsonKeys"/> (never expanded); <c>name[fr]</c> / <c>name[*]</c> on a LanguageProperty → the
/// single key is the language (see <see cref="Language"/>).
/// </summary>
public sealed record QPath
{
    private readonly string[] _subAttributes;
    private readonly string[] _jsonKeys;

    /// <summary>Creates a path.</summary>
    public QPath(string attribute, IReadOnlyList<string> subAttributes, string? member, IReadOnlyList<string> jsonKeys)
    {
        ArgumentNullException.ThrowIfNull(attribute);
        ArgumentNullException.ThrowIfNull(subAttributes);
        ArgumentNullException.ThrowIfNull(jsonKeys);
        Attribute = attribute;
        _subAttributes = [.. subAttributes];
        Member = member;
        _jsonKeys = [.. jsonKeys];
    }

    /// <summary>The expanded IRI of the entity attribute.</summary>
    public string Attribute { get; }

    /// <summary>Expanded IRIs of the sub-attributes walked from the attribute, outermost first.</summary>
    public IReadOnlyList<string> SubAttributes => _subAttributes;

    /// <summary>
    /// A member of the final attribute instance instead of its content: <c>observedAt</c>, <c>createdAt</c>,
    /// <c>modifiedAt</c>, <c>unitCode</c> or <c>datasetId</c>; null for the content.
    /// </summary>
    public string? Member { get; }

    /// <summary>Keys walked inside the JSON content (Property value, JsonProperty json), as written.</summary>
    public IReadOnlyList<string> JsonKeys => _jsonKeys;

    /// <summary>
    /// The language selected when the target is a LanguageProperty (<c>*</c> = any language): the single
    /// JSON key, or null when there is not exactly one. Whether it is a language or a JSON key is only
    /// known from the attribute type at evaluation time.
    /// </summary>
    public string? Language => _jsonKeys.Length == 1 ? _jsonKeys[0] : null;

    /// <summary>True for a bare attribute (no sub-attribute, member or key): its content is the target.</summary>
    public bool IsSimple => _subAttributes.Length == 0 && Member is null && _jsonKeys.Length == 0;

    internal string[] SubAttributeArray => _subAttributes;

    internal string[] JsonKeyArray => _jsonKeys;
}

/// <summary>Parses q expressions (§4.9).</summary>
public static class QParser
{
    /// <summary>Longest q accepted, in characters; longer input is BadRequestData.</summary>
    public const int MaxLength = 8192;

    /// <summary>Deepest parenthesis nesting accepted.</summary>
    public const int MaxDepth = 32;

    /// <summary>
    /// Parses <paramref name="q"/>, expanding attribute paths with <paramref name="context"/>.
    /// Throws <see cref="Errors.NgsiLdException"/> (BadRequestData, with the position) on any syntax error.
    /// </summary>
    public static QExpression Parse(string q, LdContext context)
    {
        ArgumentNullException.ThrowIfNull(q);
        ArgumentNullException.ThrowIfNull(context);
        return new QSyntax(q, context).ParseAll();
    }
}
