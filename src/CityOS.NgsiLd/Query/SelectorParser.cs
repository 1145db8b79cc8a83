using CityOS.NgsiLd.Errors;

namespace CityOS.NgsiLd.Query;

/// <summary>
/// The grammar shared by type expressions (§4.17) and scopeQ (§4.19): names joined by <c>,</c> or <c>|</c>
/// (OR) and <c>;</c> (AND, binding tighter), grouped with parentheses, spaces allowed between tokens.
/// What a name means is up to the caller's leaf factory.
/// </summary>
internal sealed class SelectorParser<T>
    where T : class
{
    private readonly string _text;
    private readonly string _what;
    private readonly int _maxDepth;
    private readonly Func<string, int, T> _leaf;
    private readonly Func<List<T>, T> _and;
    private readonly Func<List<T>, T> _or;
    private int _pos;
    private int _depth;

    private SelectorParser(string text, string what, int maxDepth, Func<string, int, T> leaf, Func<List<T>, T> and, Func<List<T>, T> or)
    {
        _text = text;
        _what = what;
        _maxDepth = maxDepth;
        _leaf = leaf;
        _and = and;
        _or = or;
    }

    /// <summary>
    /// Parses the whole of <paramref name="text"/>. <paramref name="leaf"/> gets each name and its position and
    /// may throw <see cref="Error(string, string, int)"/>; <paramref name="and"/> / <paramref name="or"/> combine two
    /// or more operands.
    /// </summary>
    public static T Parse(string text, string what, int maxLength, int maxDepth, Func<string, int, T> leaf, Func<List<T>, T> and, Func<List<T>, T> or)
    {
        if (text.Length > maxLength)
        {
            throw NgsiLdException.BadRequest($"Invalid {what}: longer than {maxLength} characters");
        }

        var parser = new SelectorParser<T>(text, what, maxDepth, leaf, and, or);
        var result = parser.ParseOr();
        parser.SkipSpace();
        if (parser._pos < text.Length)
        {
            throw parser.Error(text[parser._pos] == ')' ? "unbalanced ')'" : $"unexpected '{text[parser._pos]}'");
        }

        return result;
    }

    /// <summary>A BadRequestData naming the position in the expression.</summary>
    public static NgsiLdException Error(string what, string message, int position) =>
        NgsiLdException.BadRequest($"Invalid {what} at position {position}: {message}");

    private T ParseOr()
    {
        var first = ParseAnd();
        if (!(Peek(',') || Peek('|')))
        {
            return first;
        }

        var operands = new List<T> { first };
        while (Peek(',') || Peek('|'))
        {
            _pos++;
            operands.Add(ParseAnd());
        }

        return _or(operands);
    }

    private T ParseAnd()
    {
        var first = ParseUnit();
        if (!Peek(';'))
        {
            return first;
        }

        var operands = new List<T> { first };
        while (Peek(';'))
        {
            _pos++;
            operands.Add(ParseUnit());
        }

        return _and(operands);
    }

    private T ParseUnit()
    {
        SkipSpace();
        if (Peek('('))
        {
            if (++_depth > _maxDepth)
            {
                throw Error($"parentheses nested deeper than {_maxDepth}");
            }

            _pos++;
            var inner = ParseOr();
            SkipSpace();
            if (!Peek(')'))
            {
                throw Error("expected ')'");
            }

            _pos++;
            _depth--;
            SkipSpace();
            return inner;
        }

        var start = _pos;
        while (_pos < _text.Length && _text[_pos] is not (',' or '|' or ';' or '(' or ')') && !char.IsWhiteSpace(_text[_pos]))
        {
            _pos++;
        }

        if (_pos == start)
        {
            throw Error("expected a name");
        }

        var name = _text[start.._pos];
        SkipSpace();
        return _leaf(name, start);
    }

    private bool Peek(char c) => _pos < _text.Length && _text[_pos] == c;

    private void SkipSpace()
    {
        while (_pos < _text.Length && char.IsWhiteSpace(_text[_pos]))
        {
            _pos++;
        }
    }

    private NgsiLdException Error(string message) => Error(_what, message, _pos);
}
