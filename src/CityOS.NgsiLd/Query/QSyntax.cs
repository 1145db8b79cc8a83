using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using CityOS.NgsiLd.Errors;
using CityOS.NgsiLd.JsonLd;

namespace CityOS.NgsiLd.Query;

/// <summary>
/// Recursive-descent parser of the §4.9 q grammar:
/// <code>
/// or     = and *("|" and)
/// and    = unit *(";" unit)
/// unit   = "(" or ")" / "!" path / path [op value]
/// path   = name *("." name) *("[" key *("." key) "]")
/// value  = item [".." item] / item 1*("," item) / regex
/// </code>
/// Whitespace between tokens is tolerated because decoded URLs sometimes carry it.
/// </summary>
internal sealed class QSyntax
{
    private static readonly SearchValues<char> NotInIri = SearchValues.Create(" \t\r\n\"<>{}|\\^`");

    private readonly string _q;
    private readonly LdContext _context;
    private int _pos;
    private int _depth;

    public QSyntax(string q, LdContext context)
    {
        _q = q;
        _context = context;
    }

    public QExpression ParseAll()
    {
        if (_q.Length > QParser.MaxLength)
        {
            throw NgsiLdException.BadRequest($"Invalid q: longer than {QParser.MaxLength} characters");
        }

        SkipSpace();
        if (_pos >= _q.Length)
        {
            throw NgsiLdException.BadRequest("Invalid q: empty expression");
        }

        var expression = ParseOr();
        SkipSpace();
        if (_pos < _q.Length)
        {
            throw Error(_q[_pos] == ')' ? "unbalanced ')'" : $"unexpected '{_q[_pos]}'");
        }

        return expression;
    }

    private QExpression ParseOr()
    {
        var first = ParseAnd();
        SkipSpace();
        if (!Peek('|'))
        {
            return first;
        }

        var operands = new List<QExpression> { first };
        while (Peek('|'))
        {
            _pos++;
            operands.Add(ParseAnd());
            SkipSpace();
        }

        return new QOr(operands);
    }

    private QExpression ParseAnd()
    {
        var first = ParseUnit();
        SkipSpace();
        if (!Peek(';'))
        {
            return first;
        }

        var operands = new List<QExpression> { first };
        while (Peek(';'))
        {
            _pos++;
            operands.Add(ParseUnit());
            SkipSpace();
        }

        return new QAnd(operands);
    }

    private QExpression ParseUnit()
    {
        SkipSpace();
        if (_pos >= _q.Length)
        {
            throw Error("expected a term");
        }

        var c = _q[_pos];
        if (c == '(')
        {
            if (++_depth > QParser.MaxDepth)
            {
                throw Error($"parentheses nested deeper than {QParser.MaxDepth}");
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
            return inner;
        }

        if (c == '!')
        {
            _pos++;
            SkipSpace();
            var absent = ParsePath();
            SkipSpace();
            if (!AtTermEnd())
            {
                throw Error("'!attr' takes no operator or value");
            }

            return new QAbsent(absent);
        }

        return ParseTerm();
    }

    private QExpression ParseTerm()
    {
        var path = ParsePath();
        SkipSpace();
        if (AtTermEnd())
        {
            return new QExists(path);
        }

        var opStart = _pos;
        var op = ParseOperator();
        SkipSpace();
        if (AtTermEnd())
        {
            throw Error("expected a value after the operator");
        }

        if (op is QOperator.Matches or QOperator.NotMatches)
        {
            return new QComparison(path, op, ParsePattern());
        }

        var valueStart = _pos;
        var first = ParseLiteral();
        SkipSpace();
        if (Peek2('.', '.'))
        {
            _pos += 2;
            SkipSpace();
            var high = ParseLiteral();
            RequireEquality(op, opStart, "a range");
            if (!IsComparable(first.Kind) || first.Kind != high.Kind)
            {
                throw Error("range bounds must be two numbers, strings, DateTimes, Dates or Times of the same type", valueStart);
            }

            return new QComparison(path, op, new QRange(first, high));
        }

        if (Peek(','))
        {
            RequireEquality(op, opStart, "a value list");
            var items = new List<QLiteral> { first };
            while (Peek(','))
            {
                _pos++;
                SkipSpace();
                items.Add(ParseLiteral());
                SkipSpace();
            }

            return new QComparison(path, op, new QValueList(items));
        }

        if (op is not (QOperator.Equal or QOperator.NotEqual) && !IsComparable(first.Kind))
        {
            throw Error("ordering operators need a number, string, DateTime, Date or Time", valueStart);
        }

        return new QComparison(path, op, first);
    }

    private static void RequireEquality(QOperator op, int opStart, string what)
    {
        if (op is not (QOperator.Equal or QOperator.NotEqual))
        {
            throw Error($"{what} is only allowed with '==' or '!='", opStart);
        }
    }

    private static bool IsComparable(QValueKind kind) =>
        kind is QValueKind.Number or QValueKind.String or QValueKind.DateTime or QValueKind.Date or QValueKind.Time;

    private QOperator ParseOperator()
    {
        var rest = _q.AsSpan(_pos);
        (QOperator op, int length) = rest switch
        {
            _ when rest.StartsWith("==") => (QOperator.Equal, 2),
            _ when rest.StartsWith("!~=") => (QOperator.NotMatches, 3),
            _ when rest.StartsWith("!=") => (QOperator.NotEqual, 2),
            _ when rest.StartsWith(">=") => (QOperator.GreaterOrEqual, 2),
            _ when rest.StartsWith("<=") => (QOperator.LessOrEqual, 2),
            _ when rest.StartsWith("~=") => (QOperator.Matches, 2),
            _ when rest.StartsWith(">") => (QOperator.Greater, 1),
            _ when rest.StartsWith("<") => (QOperator.Less, 1),
            _ => (QOperator.Equal, 0),
        };
        if (length == 0)
        {
            throw Error(rest[0] == '=' ? "'=' is not an operator (use '==')" : $"expected an operator, found '{rest[0]}'");
        }

        _pos += length;
        return op;
    }

    private QPath ParsePath()
    {
        var attribute = _context.ExpandTerm(ParseName());
        List<string>? subs = null;
        string? member = null;
        while (Peek('.'))
        {
            if (member is not null)
            {
                throw Error($"'{member}' is a member of the attribute and cannot be followed by a path");
            }

            _pos++;
            var name = ParseName();
            if (IsMember(name))
            {
                member = name;
            }
            else
            {
                (subs ??= []).Add(_context.ExpandTerm(name));
            }
        }

        List<string>? keys = null;
        while (Peek('['))
        {
            if (member is not null)
            {
                throw Error($"'{member}' has no JSON content to enter");
            }

            _pos++;
            keys ??= [];
            while (true)
            {
                keys.Add(ParseKey());
                if (Peek('.'))
                {
                    _pos++;
                    continue;
                }

                if (Peek(']'))
                {
                    _pos++;
                    break;
                }

                throw Error("expected '.' or ']' in a [key] path");
            }
        }

        if (keys is not null && Peek('.'))
        {
            throw Error("no attribute path may follow a [key] path");
        }

        if (Peek('{'))
        {
            throw Error("linked-entity paths 'rel{attr}' are not supported");
        }

        return new QPath(attribute, subs ?? (IReadOnlyList<string>)[], member, keys ?? (IReadOnlyList<string>)[]);
    }

    private static bool IsMember(string name) =>
        name is "observedAt" or "createdAt" or "modifiedAt" or "unitCode" or "datasetId";

    private string ParseName()
    {
        var start = _pos;
        if (_pos >= _q.Length || !(char.IsLetter(_q[_pos]) || _q[_pos] == '_'))
        {
            throw Error("expected an attribute name");
        }

        while (_pos < _q.Length && IsNameChar(_q[_pos]))
        {
            _pos++;
        }

        return _q[start.._pos];
    }

    // ':' lets compact IRIs (ngsi-ld:x) through, '-' their prefixes, '/' and '#' IRIs without dots.
    private static bool IsNameChar(char c) => char.IsLetterOrDigit(c) || c is '_' or ':' or '-' or '/' or '#';

    private string ParseKey()
    {
        var start = _pos;
        while (_pos < _q.Length && _q[_pos] is not ('.' or ']' or '[' or ';' or '|' or '(' or ')' or '"') && !char.IsWhiteSpace(_q[_pos]))
        {
            _pos++;
        }

        if (_pos == start)
        {
            throw Error("expected a key inside '[...]'");
        }

        return _q[start.._pos];
    }

    private QPattern ParsePattern()
    {
        var start = _pos;
        string pattern;
        if (Peek('"'))
        {
            pattern = ParseQuoted();
        }
        else
        {
            // An unquoted pattern runs to the next top-level ';', '|' or ')'; quote it to use those.
            var parens = 0;
            while (_pos < _q.Length)
            {
                var c = _q[_pos];
                if (c == '\\')
                {
                    _pos = Math.Min(_pos + 2, _q.Length);
                    continue;
                }

                if (c == '(')
                {
                    parens++;
                }
                else if (c == ')')
                {
                    if (parens == 0)
                    {
                        break;
                    }

                    parens--;
                }
                else if (parens == 0 && c is ';' or '|')
                {
                    break;
                }

                _pos++;
            }

            pattern = _q[start.._pos].TrimEnd();
        }

        if (pattern.Length == 0)
        {
            throw Error("empty regular expression", start);
        }

        try
        {
            return new QPattern(pattern, new Regex(pattern, RegexOptions.CultureInvariant, QPattern.MatchTimeout));
        }
        catch (ArgumentException e)
        {
            throw Error($"invalid regular expression ({e.Message})", start);
        }
    }

    private QLiteral ParseLiteral()
    {
        var start = _pos;
        if (_pos >= _q.Length)
        {
            throw Error("expected a value");
        }

        if (_q[_pos] == '"')
        {
            var text = ParseQuoted();
            return new QLiteral(QValueKind.String, text)
            {
                DateTime = TemporalText.TryParseDateTime(text, out var dt) ? dt : null,
                Date = TemporalText.TryParseDate(text, out var d) ? d : null,
                Time = TemporalText.TryParseTime(text, out var t) ? t : null,
                VocabIri = ExpandVocab(text),
            };
        }

        while (_pos < _q.Length)
        {
            var c = _q[_pos];
            if (c is ';' or '|' or '(' or ')' or ',' or '"' or '[' or ']' || char.IsWhiteSpace(c) || (c == '.' && Peek2('.', '.')))
            {
                break;
            }

            _pos++;
        }

        var token = _q[start.._pos];
        if (token.Length == 0)
        {
            throw Error("expected a value");
        }

        return Classify(token, start);
    }

    private QLiteral Classify(string token, int start)
    {
        if (token == "true" || token == "false")
        {
            return new QLiteral(QValueKind.Boolean, token) { Boolean = token[0] == 't' };
        }

        if (IsJsonNumber(token))
        {
            if (!double.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) || !double.IsFinite(number))
            {
                throw Error($"number '{token}' is out of range", start);
            }

            return new QLiteral(QValueKind.Number, token) { Number = number };
        }

        if (TemporalText.TryParseDateTime(token, out var dateTime))
        {
            return new QLiteral(QValueKind.DateTime, token) { DateTime = dateTime };
        }

        if (TemporalText.TryParseDate(token, out var date))
        {
            return new QLiteral(QValueKind.Date, token) { Date = date };
        }

        if (TemporalText.TryParseTime(token, out var time))
        {
            return new QLiteral(QValueKind.Time, token) { Time = time };
        }

        if (IsUri(token))
        {
            return new QLiteral(QValueKind.Uri, token) { VocabIri = ExpandVocab(token) };
        }

        if (char.IsAsciiDigit(token[0]) || token[0] is '-' or '+' or '.')
        {
            throw Error($"'{token}' is neither a number nor a DateTime, Date or Time", start);
        }

        throw Error($"'{token}' is not a value: strings must be double-quoted", start);
    }

    // Any string might be compared with a VocabProperty, but only a term or IRI can be one of its values;
    // free text ("Unter den Linden") is not offered to the expander, which may reject it.
    private string? ExpandVocab(string text)
    {
        if (text.Length == 0 || text.AsSpan().ContainsAny(NotInIri))
        {
            return null;
        }

        try
        {
            return _context.ExpandVocabValue(text);
        }
        catch (Exception e) when (e is NgsiLdException or ArgumentException or FormatException)
        {
            return null;
        }
    }

    private static bool IsJsonNumber(ReadOnlySpan<char> s)
    {
        var i = 0;
        if (i < s.Length && s[i] == '-')
        {
            i++;
        }

        var intStart = i;
        while (i < s.Length && char.IsAsciiDigit(s[i]))
        {
            i++;
        }

        if (i == intStart || (s[intStart] == '0' && i - intStart > 1))
        {
            return false;
        }

        if (i < s.Length && s[i] == '.')
        {
            var fracStart = ++i;
            while (i < s.Length && char.IsAsciiDigit(s[i]))
            {
                i++;
            }

            if (i == fracStart)
            {
                return false;
            }
        }

        if (i < s.Length && s[i] is 'e' or 'E')
        {
            i++;
            if (i < s.Length && s[i] is '+' or '-')
            {
                i++;
            }

            var expStart = i;
            while (i < s.Length && char.IsAsciiDigit(s[i]))
            {
                i++;
            }

            if (i == expStart)
            {
                return false;
            }
        }

        return i == s.Length;
    }

    // RFC 3986 scheme ":" rest, with a non-empty rest.
    private static bool IsUri(ReadOnlySpan<char> s)
    {
        var colon = s.IndexOf(':');
        if (colon <= 0 || colon == s.Length - 1 || !char.IsAsciiLetter(s[0]))
        {
            return false;
        }

        foreach (var c in s[..colon])
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '+' or '-' or '.'))
            {
                return false;
            }
        }

        return true;
    }

    private string ParseQuoted()
    {
        var start = _pos;
        _pos++; // opening quote
        StringBuilder? sb = null;
        var runStart = _pos;
        while (_pos < _q.Length)
        {
            var c = _q[_pos];
            if (c == '"')
            {
                string result;
                if (sb is null)
                {
                    result = _q[runStart.._pos];
                }
                else
                {
                    sb.Append(_q, runStart, _pos - runStart);
                    result = sb.ToString();
                }

                _pos++;
                return result;
            }

            if (c == '\\')
            {
                sb ??= new StringBuilder();
                sb.Append(_q, runStart, _pos - runStart);
                if (_pos + 1 >= _q.Length)
                {
                    break;
                }

                var e = _q[_pos + 1];
                _pos += 2;
                switch (e)
                {
                    case '"': sb.Append('"'); break;
                    case '\\': sb.Append('\\'); break;
                    case '/': sb.Append('/'); break;
                    case 'b': sb.Append('\b'); break;
                    case 'f': sb.Append('\f'); break;
                    case 'n': sb.Append('\n'); break;
                    case 'r': sb.Append('\r'); break;
                    case 't': sb.Append('\t'); break;
                    case 'u':
                        if (_pos + 4 > _q.Length || !ushort.TryParse(_q.AsSpan(_pos, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var code))
                        {
                            throw Error("invalid \\u escape", _pos - 2);
                        }

                        sb.Append((char)code);
                        _pos += 4;
                        break;
                    default:
                        throw Error($"invalid escape '\\{e}'", _pos - 2);
                }

                runStart = _pos;
                continue;
            }

            _pos++;
        }

        throw Error("unterminated string", start);
    }

    private bool AtTermEnd() => _pos >= _q.Length || _q[_pos] is ';' or '|' or ')';

    private bool Peek(char c) => _pos < _q.Length && _q[_pos] == c;

    private bool Peek2(char a, char b) => _pos + 1 < _q.Length && _q[_pos] == a && _q[_pos + 1] == b;

    private void SkipSpace()
    {
        while (_pos < _q.Length && char.IsWhiteSpace(_q[_pos]))
        {
            _pos++;
        }
    }

    private NgsiLdException Error(string message) => Error(message, _pos);

    private static NgsiLdException Error(string message, int position) =>
        NgsiLdException.BadRequest($"Invalid q at position {position}: {message}");
}
