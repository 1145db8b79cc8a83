namespace CityOS.NgsiLd.Model;

/// <summary>Validation of entity type and attribute names (§4.6.2) and of the core names they may not take.</summary>
public static class NameRules
{
    private const string CorePrefix = "https://uri.etsi.org/ngsi-ld/";
    private const string CoreCompactPrefix = "ngsi-ld:";

    // Non-reified core terms: members of entities or attribute instances, never attribute names.
    private static readonly HashSet<string> Reserved = new(StringComparer.Ordinal)
    {
        "id", "type", "scope", "@context", "@id", "@type", "createdAt", "modifiedAt", "deletedAt", "expiresAt",
        "observedAt", "unitCode", "datasetId", "instanceId", "value", "object", "objectType", "languageMap", "vocab",
        "json", "valueList", "objectList", "valueType", "lang", "previousValue", "previousObject",
        "previousLanguageMap", "previousVocab", "previousJson", "previousValueList", "previousObjectList",
        "values", "objects", "languageMaps", "vocabs", "jsons", "valueLists", "objectLists",
    };

    /// <summary>True when <paramref name="name"/> is a core member name that cannot name an attribute.</summary>
    public static bool IsReserved(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (Reserved.Contains(name))
        {
            return true;
        }

        // The same names written as compact IRIs or IRIs ("ngsi-ld:datasetId").
        return (name.StartsWith(CorePrefix, StringComparison.Ordinal) && Reserved.Contains(name[CorePrefix.Length..]))
            || (name.StartsWith(CoreCompactPrefix, StringComparison.Ordinal) && Reserved.Contains(name[CoreCompactPrefix.Length..]));
    }

    /// <summary>
    /// True for a valid name: a letter then letters, digits or '_'; or a compact IRI / absolute IRI without the
    /// characters NGSI-LD forbids in names.
    /// </summary>
    public static bool IsValidName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length == 0 || name.Length > 1024)
        {
            return false;
        }

        if (!name.Contains(':', StringComparison.Ordinal))
        {
            if (!char.IsLetter(name[0]))
            {
                return false;
            }

            foreach (var ch in name)
            {
                if (!char.IsLetterOrDigit(ch) && ch != '_' && !IsCombiningMark(ch))
                {
                    return false;
                }
            }

            return true;
        }

        foreach (var ch in name)
        {
            if (char.IsWhiteSpace(ch) || char.IsControl(ch) || ch is '<' or '>' or '"' or '\'' or '=' or ';' or '(' or ')' or '\\')
            {
                return false;
            }
        }

        return HasScheme(name) && Uri.TryCreate(name, UriKind.Absolute, out _);
    }

    // Vietnamese typed in decomposed form (NFD) puts its tone marks in combining characters: "Trạm" as
    // "Tra\u0323m". They belong to the letter before them, so they are allowed after the first character.
    private static bool IsCombiningMark(char ch) =>
        char.GetUnicodeCategory(ch) is System.Globalization.UnicodeCategory.NonSpacingMark or System.Globalization.UnicodeCategory.SpacingCombiningMark;

    /// <summary>True for an absolute URI (entity ids, Relationship targets, datasetIds).</summary>
    public static bool IsUri(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0)
        {
            return false;
        }

        foreach (var ch in text)
        {
            if (char.IsWhiteSpace(ch) || char.IsControl(ch) || ch is '<' or '>' or '"')
            {
                return false;
            }
        }

        return HasScheme(text) && Uri.TryCreate(text, UriKind.Absolute, out _);
    }

    // Uri.TryCreate takes "/x" as an implicit file path on Unix; NGSI-LD URIs always start with a scheme.
    private static bool HasScheme(string text)
    {
        if (!char.IsAsciiLetter(text[0]))
        {
            return false;
        }

        for (var i = 1; i < text.Length; i++)
        {
            var ch = text[i];
            if (ch == ':')
            {
                return i < text.Length - 1;
            }

            if (!char.IsAsciiLetterOrDigit(ch) && ch is not '+' and not '-' and not '.')
            {
                return false;
            }
        }

        return false;
    }
}
