using System.Text.RegularExpressions;

namespace CityOS.NgsiLd.Query;

/// <summary>The right-hand side of a <see cref="QComparison"/>.</summary>
public abstract record QValue;

/// <summary>The data type of a <see cref="QLiteral"/>, as written in the q string.</summary>
public enum QValueKind
{
    /// <summary>A JSON number (<c>12</c>, <c>-1.5e3</c>).</summary>
    Number,

    /// <summary>A double-quoted string (escapes already resolved).</summary>
    String,

    /// <summary><c>true</c> / <c>false</c>.</summary>
    Boolean,

    /// <summary>An unquoted DateTime (<c>2017-12-24T12:00:00Z</c>).</summary>
    DateTime,

    /// <summary>An unquoted Date (<c>2017-12-24</c>).</summary>
    Date,

    /// <summary>An unquoted Time (<c>12:00:00Z</c>).</summary>
    Time,

    /// <summary>An unquoted URI (<c>urn:ngsi-ld:Building:1</c>).</summary>
    Uri,
}

/// <summary>
/// A single typed value. <see cref="Text"/> always holds the value as written (unescaped for strings);
/// the typed property for <see cref="Kind"/> holds the parsed form.
/// </summary>
public sealed record QLiteral : QValue
{
    internal QLiteral(QValueKind kind, string text)
    {
        Kind = kind;
        Text = text;
    }

    /// <summary>The data type.</summary>
    public QValueKind Kind { get; }

    /// <summary>The value as written (strings without quotes, escapes resolved).</summary>
    public string Text { get; }

    /// <summary>The number, when <see cref="Kind"/> is <see cref="QValueKind.Number"/>.</summary>
    public double Number { get; init; }

    /// <summary>The boolean, when <see cref="Kind"/> is <see cref="QValueKind.Boolean"/>.</summary>
    public bool Boolean { get; init; }

    /// <summary>
    /// The instant, when <see cref="Kind"/> is <see cref="QValueKind.DateTime"/>, or when a quoted string
    /// happens to be a DateTime (strings compare temporally when both sides parse).
    /// </summary>
    public DateTimeOffset? DateTime { get; init; }

    /// <summary>The date, for <see cref="QValueKind.Date"/> (or a quoted string holding a Date).</summary>
    public DateOnly? Date { get; init; }

    /// <summary>The time of day, for <see cref="QValueKind.Time"/> (or a quoted string holding a Time).</summary>
    public TimeOnly? Time { get; init; }

    /// <summary>
    /// For strings and URIs: the value expanded as a vocabulary term with the request @context, which is
    /// what a VocabProperty stores; null for other kinds and for text that cannot be a term or IRI
    /// (whitespace, quotes, …), which then never equals a vocab value.
    /// </summary>
    public string? VocabIri { get; init; }
}

/// <summary>An inclusive range <c>low..high</c> (only with <c>==</c> / <c>!=</c>); both bounds have the same kind.</summary>
public sealed record QRange(QLiteral Low, QLiteral High) : QValue;

/// <summary>A value list <c>a,b,c</c> (only with <c>==</c> / <c>!=</c>): matches when any item does.</summary>
public sealed record QValueList : QValue
{
    private readonly QLiteral[] _items;

    /// <summary>Creates a list of at least two items.</summary>
    public QValueList(IReadOnlyList<QLiteral> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        _items = [.. items];
    }

    /// <summary>The items, in source order.</summary>
    public IReadOnlyList<QLiteral> Items => _items;

    internal QLiteral[] ItemArray => _items;
}

/// <summary>
/// A regular expression for <c>~=</c> / <c>!~=</c>, compiled with .NET semantics (culture-invariant, with a
/// match timeout). A match that times out counts as "no match" for both operators.
/// </summary>
public sealed record QPattern : QValue
{
    /// <summary>How long one match may run before it is abandoned.</summary>
    public static readonly TimeSpan MatchTimeout = TimeSpan.FromMilliseconds(100);

    internal QPattern(string pattern, Regex regex)
    {
        Pattern = pattern;
        Regex = regex;
    }

    /// <summary>The pattern text as written.</summary>
    public string Pattern { get; }

    /// <summary>The compiled expression.</summary>
    public Regex Regex { get; }
}
