using CityOS.NgsiLd.Errors;

namespace CityOS.NgsiLd.JsonLd;

/// <summary>
/// Reads and writes the JSON-LD context Link header (§6.3.5, RFC 8288):
/// <c>&lt;url&gt;; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"</c>.
/// </summary>
/// <remarks>
/// Parsing is tolerant about spacing, parameter order, quoting and case, and skips links with other
/// relations (a client may send <c>rel="next"</c> alongside), but a header it cannot make sense of is an
/// error rather than something to guess around: treating it as a bare URL is a known broker bug (FACTS §11 #17).
/// </remarks>
public static class LinkHeader
{
    /// <summary>The relation type that marks a JSON-LD context link.</summary>
    public const string ContextRel = "http://www.w3.org/ns/json-ld#context";

    /// <summary>
    /// The context URL named by the Link header value(s), or null when none is a context link.
    /// </summary>
    /// <exception cref="NgsiLdException">BadRequestData when a value is malformed or more than one context link is given.</exception>
    public static string? ParseContextUrl(string? header) => ParseContextUrl([header]);

    /// <summary>As <see cref="ParseContextUrl(string?)"/>, over several Link header lines.</summary>
    public static string? ParseContextUrl(IEnumerable<string?> headers)
    {
        ArgumentNullException.ThrowIfNull(headers);
        string? found = null;
        foreach (var header in headers)
        {
            if (string.IsNullOrWhiteSpace(header))
            {
                continue;
            }

            var position = 0;
            while (true)
            {
                var (url, isContext) = ParseLink(header, ref position);
                if (isContext)
                {
                    if (found is not null)
                    {
                        throw NgsiLdException.BadRequest("More than one JSON-LD context Link header was given; send one.");
                    }

                    if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
                    {
                        throw NgsiLdException.BadRequest($"The context Link header must hold an absolute http(s) URL, not '{url}'.");
                    }

                    found = url;
                }

                SkipWhitespace(header, ref position);
                if (position >= header.Length)
                {
                    break;
                }

                if (header[position] != ',')
                {
                    throw Malformed(header);
                }

                position++;
                SkipWhitespace(header, ref position);
                if (position >= header.Length)
                {
                    break;
                }
            }
        }

        return found;
    }

    /// <summary>The Link header value announcing <paramref name="url"/> as the JSON-LD context.</summary>
    public static string Format(string url)
    {
        ArgumentNullException.ThrowIfNull(url);
        return $"<{url}>; rel=\"{ContextRel}\"; type=\"application/ld+json\"";
    }

    /// <summary>One link-value: <c>"&lt;" URI "&gt;" *( OWS ";" OWS param [ "=" ( token / quoted-string ) ] )</c>.</summary>
    private static (string Url, bool IsContext) ParseLink(string header, ref int position)
    {
        SkipWhitespace(header, ref position);
        if (position >= header.Length || header[position] != '<')
        {
            throw Malformed(header);
        }

        var close = header.IndexOf('>', position + 1);
        if (close < 0)
        {
            throw Malformed(header);
        }

        var url = header[(position + 1)..close].Trim();
        position = close + 1;
        var isContext = false;
        while (true)
        {
            SkipWhitespace(header, ref position);
            if (position >= header.Length || header[position] == ',')
            {
                return (url, isContext);
            }

            if (header[position] != ';')
            {
                throw Malformed(header);
            }

            position++;
            SkipWhitespace(header, ref position);
            if (position >= header.Length || header[position] == ',')
            {
                // A trailing ';' carries no parameter; tolerate it.
                return (url, isContext);
            }

            var nameStart = position;
            while (position < header.Length && IsTokenChar(header[position]))
            {
                position++;
            }

            if (position == nameStart)
            {
                throw Malformed(header);
            }

            var name = header[nameStart..position];
            SkipWhitespace(header, ref position);
            string? value = null;
            if (position < header.Length && header[position] == '=')
            {
                position++;
                SkipWhitespace(header, ref position);
                value = ReadParameterValue(header, ref position);
            }

            if (name.Equals("rel", StringComparison.OrdinalIgnoreCase) && value is not null)
            {
                // rel may list several space-separated relation types.
                foreach (var rel in value.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                {
                    isContext |= rel.Equals(ContextRel, StringComparison.OrdinalIgnoreCase);
                }
            }
        }
    }

    private static string ReadParameterValue(string header, ref int position)
    {
        if (position < header.Length && header[position] == '"')
        {
            var builder = new System.Text.StringBuilder();
            position++;
            while (position < header.Length)
            {
                var c = header[position++];
                if (c == '"')
                {
                    return builder.ToString();
                }

                if (c == '\\' && position < header.Length)
                {
                    c = header[position++];
                }

                builder.Append(c);
            }

            throw Malformed(header);
        }

        var start = position;
        while (position < header.Length && header[position] is not (';' or ',') && !char.IsWhiteSpace(header[position]))
        {
            position++;
        }

        return position == start ? throw Malformed(header) : header[start..position];
    }

    private static bool IsTokenChar(char c) =>
        char.IsAsciiLetterOrDigit(c) || c is '!' or '#' or '$' or '%' or '&' or '\'' or '*' or '+' or '-' or '.' or '^' or '_' or '`' or '|' or '~';

    private static void SkipWhitespace(string header, ref int position)
    {
        while (position < header.Length && header[position] is ' ' or '\t')
        {
            position++;
        }
    }

    private static NgsiLdException Malformed(string header) =>
        NgsiLdException.BadRequest($"Malformed Link header: '{header}'. Expected <url>; rel=\"{ContextRel}\"; type=\"application/ld+json\".");
}
