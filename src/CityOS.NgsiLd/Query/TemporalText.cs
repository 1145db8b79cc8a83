using System.Globalization;

namespace CityOS.NgsiLd.Query;

/// <summary>
/// Strict recognisers for the NGSI-LD DateTime, Date and Time lexical forms. Strict on purpose: a loose
/// parser would read "2017-12-24" as a DateTime, and a Date must never compare equal to a DateTime.
/// </summary>
internal static class TemporalText
{
    private static readonly string[] TimeFormats = ["HH:mm:ss", "HH:mm:ss.FFFFFFF", "HH:mm"];

    /// <summary><c>YYYY-MM-DDThh:mm:ss[.f][Z|±hh:mm]</c>; no zone means UTC.</summary>
    public static bool TryParseDateTime(ReadOnlySpan<char> s, out DateTimeOffset value)
    {
        value = default;
        if (s.Length < 16 || s.Length > 40 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || !char.IsAsciiDigit(s[0]))
        {
            return false;
        }

        return DateTimeOffset.TryParse(
            s,
            CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal,
            out value);
    }

    /// <summary><c>YYYY-MM-DD</c>.</summary>
    public static bool TryParseDate(ReadOnlySpan<char> s, out DateOnly value)
    {
        value = default;
        return s.Length == 10 && s[4] == '-' && s[7] == '-'
            && DateOnly.TryParseExact(s, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out value);
    }

    /// <summary><c>hh:mm:ss[.f][Z]</c>.</summary>
    public static bool TryParseTime(ReadOnlySpan<char> s, out TimeOnly value)
    {
        value = default;
        if (s.Length < 5 || s.Length > 20 || s[2] != ':' || !char.IsAsciiDigit(s[0]))
        {
            return false;
        }

        if (s[^1] == 'Z')
        {
            s = s[..^1];
        }

        return TimeOnly.TryParseExact(s, TimeFormats, CultureInfo.InvariantCulture, DateTimeStyles.None, out value);
    }
}
