namespace CityOS.NgsiLd.JsonLd;

/// <summary>Lexical helpers of JSON-LD 1.1 (keywords, IRI shapes) shared by context processing and compaction.</summary>
internal static class JsonLdSyntax
{
    private static readonly HashSet<string> s_keywords = new(StringComparer.Ordinal)
    {
        "@base", "@container", "@context", "@direction", "@graph", "@id", "@import", "@included", "@index",
        "@json", "@language", "@list", "@nest", "@none", "@prefix", "@propagate", "@protected", "@reverse",
        "@set", "@type", "@value", "@version", "@vocab",
    };

    public static bool IsKeyword(string value) => value.Length > 1 && value[0] == '@' && s_keywords.Contains(value);

    /// <summary>"@" followed by letters only: reserved for future keywords, ignored by processors (JSON-LD 1.1 §4.1 step 4).</summary>
    public static bool HasKeywordForm(string value)
    {
        if (value.Length < 2 || value[0] != '@')
        {
            return false;
        }

        foreach (var c in value.AsSpan(1))
        {
            if (!char.IsAsciiLetter(c))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>True when <paramref name="value"/> starts with an RFC 3986 scheme followed by ':'.</summary>
    public static bool IsAbsoluteIri(ReadOnlySpan<char> value)
    {
        var colon = value.IndexOf(':');
        if (colon < 1 || !char.IsAsciiLetter(value[0]))
        {
            return false;
        }

        foreach (var c in value[1..colon])
        {
            if (!char.IsAsciiLetterOrDigit(c) && c != '+' && c != '-' && c != '.')
            {
                return false;
            }
        }

        // Whitespace never occurs in an IRI; rejecting it keeps "a: b" from passing as one.
        return value.IndexOfAny(' ', '\t', '\n') < 0;
    }

    public static bool IsBlankNode(string value) => value.StartsWith("_:", StringComparison.Ordinal);

    /// <summary>RFC 3986 gen-delims; an IRI ending in one of them makes a simple term usable as a prefix.</summary>
    public static bool EndsWithGenDelim(string iri) => iri.Length > 0 && iri[^1] is ':' or '/' or '?' or '#' or '[' or ']' or '@';
}
