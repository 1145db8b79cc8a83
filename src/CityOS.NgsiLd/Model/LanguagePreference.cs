using System.Globalization;
using System.Text.Json.Nodes;

namespace CityOS.NgsiLd.Model;

/// <summary>
/// A parsed <c>lang=</c> value (§4.15): language ranges with optional q-weights, best first, used to pick
/// one string of a LanguageProperty's languageMap.
/// </summary>
public sealed class LanguagePreference
{
    private readonly string[] _ranges;

    private LanguagePreference(string[] ranges)
    {
        _ranges = ranges;
    }

    /// <summary>The ranges in preference order (q-weight descending, then as written).</summary>
    public IReadOnlyList<string> Ranges => _ranges;

    /// <summary>Parses <c>fr-CH,fr;q=0.9,*</c>. Ranges with q=0 are dropped; a malformed q counts as 1.</summary>
    public static LanguagePreference Parse(string lang)
    {
        ArgumentNullException.ThrowIfNull(lang);
        var parts = lang.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var ranges = new List<(string Range, double Q, int Order)>(parts.Length);
        for (var i = 0; i < parts.Length; i++)
        {
            var part = parts[i];
            var q = 1.0;
            var semicolon = part.IndexOf(';', StringComparison.Ordinal);
            if (semicolon >= 0)
            {
                var parameter = part.AsSpan(semicolon + 1).Trim();
                if (parameter.StartsWith("q=", StringComparison.OrdinalIgnoreCase)
                    && double.TryParse(parameter[2..], NumberStyles.Float, CultureInfo.InvariantCulture, out var weight))
                {
                    q = weight;
                }

                part = part[..semicolon].Trim();
            }

            if (part.Length > 0 && q > 0)
            {
                ranges.Add((part, q, i));
            }
        }

        ranges.Sort(static (a, b) => a.Q != b.Q ? b.Q.CompareTo(a.Q) : a.Order.CompareTo(b.Order));
        var result = new string[ranges.Count];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = ranges[i].Range;
        }

        return new LanguagePreference(result);
    }

    /// <summary>
    /// Picks the language of <paramref name="languageMap"/> that best matches: for each range in order an
    /// exact tag, a more specific tag ("fr" matches "fr-CH"), then a less specific one ("fr-CH" falls back to
    /// "fr"); "*" takes any language. With no match: "@none", else the first entry. Null for an empty map.
    /// </summary>
    public string? Select(JsonObject languageMap)
    {
        ArgumentNullException.ThrowIfNull(languageMap);
        foreach (var range in _ranges)
        {
            if (range == "*")
            {
                foreach (var (tag, _) in languageMap)
                {
                    if (tag != "@none")
                    {
                        return tag;
                    }
                }

                continue;
            }

            string? prefixMatch = null;
            foreach (var (tag, _) in languageMap)
            {
                if (tag.Equals(range, StringComparison.OrdinalIgnoreCase))
                {
                    return tag;
                }

                if (prefixMatch is null && tag.Length > range.Length && tag[range.Length] == '-'
                    && tag.StartsWith(range, StringComparison.OrdinalIgnoreCase))
                {
                    prefixMatch = tag;
                }
            }

            if (prefixMatch is not null)
            {
                return prefixMatch;
            }

            for (var cut = range.LastIndexOf('-'); cut > 0; cut = range.LastIndexOf('-', cut - 1))
            {
                foreach (var (tag, _) in languageMap)
                {
                    if (tag.AsSpan().Equals(range.AsSpan(0, cut), StringComparison.OrdinalIgnoreCase))
                    {
                        return tag;
                    }
                }
            }
        }

        if (languageMap.ContainsKey("@none"))
        {
            return "@none";
        }

        foreach (var (tag, _) in languageMap)
        {
            return tag;
        }

        return null;
    }
}
