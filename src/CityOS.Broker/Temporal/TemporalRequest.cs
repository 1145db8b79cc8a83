using System.Globalization;
using System.Text.RegularExpressions;
using CityOS.Broker.Storage;
using CityOS.NgsiLd.Errors;

namespace CityOS.Broker.Temporal;

/// <summary>How a temporal read renders attributes (§4.5.9, §4.5.18, §4.5.19).</summary>
public enum TemporalFormat
{
    /// <summary>Every instance as a full attribute with instanceId (the default).</summary>
    Normalized,

    /// <summary>options=temporalValues (simplified): [value, time] pairs per attribute.</summary>
    TemporalValues,

    /// <summary>options=aggregatedValues: [result, start, end] per method and period.</summary>
    Aggregated,
}

/// <summary>The temporal part of a read: window, lastN, attributes, representation and aggregation, validated.</summary>
public sealed record TemporalRequest
{
    /// <summary>The aggregation methods of aggrMethods, in the spec's order.</summary>
    public static readonly IReadOnlyList<string> KnownAggregations = ["totalCount", "distinctCount", "sum", "avg", "min", "max", "stddev", "sumsq"];

    public TemporalWindow Window { get; init; } = TemporalWindow.All;

    /// <summary>True when timerel was given (a window), false for the whole history.</summary>
    public bool HasTimerel { get; init; }

    /// <summary>lastN: the newest N instances per attribute inside the window.</summary>
    public int? LastN { get; init; }

    /// <summary>Expanded attribute IRIs to return; null returns all.</summary>
    public IReadOnlySet<string>? Attrs { get; init; }

    /// <summary>datasetId= filter: expanded datasetIds, "@none" for the default instance; null keeps all.</summary>
    public IReadOnlySet<string>? DatasetIds { get; init; }

    public TemporalFormat Format { get; init; }

    /// <summary>options=sysAttrs: instances carry createdAt and modifiedAt.</summary>
    public bool SysAttrs { get; init; }

    /// <summary>aggrMethods, for <see cref="TemporalFormat.Aggregated"/>.</summary>
    public IReadOnlyList<string> AggregationMethods { get; init; } = [];

    /// <summary>aggrPeriodDuration in microseconds; 0 = the whole window as one period.</summary>
    public long AggregationPeriod { get; init; }
}

/// <summary>Parses and validates the temporal query parameters (§6.3.x, §5.5.9); every fault is 400 BadRequestData.</summary>
public static partial class TemporalParameters
{
    /// <summary>The window of timerel/timeAt/endTimeAt/timeproperty; <paramref name="timerel"/> null = no window.</summary>
    public static TemporalWindow Window(string? timerel, string? timeAt, string? endTimeAt, string? timeproperty)
    {
        var property = timeproperty switch
        {
            null or "observedAt" => TemporalProperty.ObservedAt,
            "createdAt" => TemporalProperty.CreatedAt,
            "modifiedAt" => TemporalProperty.ModifiedAt,
            "deletedAt" => TemporalProperty.DeletedAt,
            _ => throw NgsiLdException.BadRequest($"timeproperty must be observedAt, createdAt, modifiedAt or deletedAt, not '{timeproperty}'."),
        };
        if (timerel is null)
        {
            return timeAt is not null || endTimeAt is not null
                ? throw NgsiLdException.BadRequest("timeAt and endTimeAt need timerel (before, after or between).")
                : new TemporalWindow(property, null, null);
        }

        var at = timeAt is null
            ? throw NgsiLdException.BadRequest("timerel needs timeAt.")
            : TemporalTime.Parse(timeAt) ?? throw NgsiLdException.BadRequest($"timeAt '{Clip(timeAt)}' is not an NGSI-LD DateTime (e.g. 2026-01-01T00:00:00Z).");
        switch (timerel)
        {
            case "before":
                NoEnd(endTimeAt, timerel);
                return new TemporalWindow(property, null, at);
            case "after":
                NoEnd(endTimeAt, timerel);
                return new TemporalWindow(property, at, null);
            case "between":
                var end = endTimeAt is null
                    ? throw NgsiLdException.BadRequest("timerel=between needs endTimeAt.")
                    : TemporalTime.Parse(endTimeAt) ?? throw NgsiLdException.BadRequest($"endTimeAt '{Clip(endTimeAt)}' is not an NGSI-LD DateTime.");
                return end <= at ? throw NgsiLdException.BadRequest("endTimeAt must be after timeAt.") : new TemporalWindow(property, at, end);
            default:
                throw NgsiLdException.BadRequest($"timerel must be before, after or between, not '{Clip(timerel)}'.");
        }
    }

    /// <summary>lastN: a positive integer, or null when absent.</summary>
    public static int? LastN(string? text)
    {
        if (text is null)
        {
            return null;
        }

        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw NgsiLdException.BadRequest($"lastN must be a positive integer, not '{Clip(text)}'.");
    }

    /// <summary>aggrMethods: a non-empty comma-separated subset of <see cref="TemporalRequest.KnownAggregations"/>.</summary>
    public static IReadOnlyList<string> AggregationMethods(string? text)
    {
        if (text is null)
        {
            throw NgsiLdException.BadRequest("options=aggregatedValues needs aggrMethods (totalCount, distinctCount, sum, avg, min, max, stddev, sumsq).");
        }

        var methods = new List<string>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!TemporalRequest.KnownAggregations.Contains(part))
            {
                throw NgsiLdException.BadRequest($"aggrMethods holds '{Clip(part)}'; known: {string.Join(", ", TemporalRequest.KnownAggregations)}.");
            }

            if (!methods.Contains(part))
            {
                methods.Add(part);
            }
        }

        return methods.Count == 0 ? throw NgsiLdException.BadRequest("aggrMethods names no method.") : methods;
    }

    /// <summary>
    /// aggrPeriodDuration: an ISO 8601 duration (PnDTnHnMnS, PnW) in microseconds; null is PT0S (0: the whole window).
    /// Years and months have no fixed length, so they are refused rather than approximated.
    /// </summary>
    public static long Duration(string? text)
    {
        if (text is null)
        {
            return 0;
        }

        var match = DurationPattern().Match(text);
        if (!match.Success || text == "P" || text.EndsWith('T'))
        {
            throw NgsiLdException.BadRequest($"aggrPeriodDuration '{Clip(text)}' is not an ISO 8601 duration (e.g. PT1H, P1D, P1W).");
        }

        if (match.Groups["y"].Success || match.Groups["mo"].Success)
        {
            throw NgsiLdException.BadRequest("aggrPeriodDuration in years or months is not supported (their length varies); use days or weeks.");
        }

        double seconds = 0;
        seconds += Part(match, "w") * 7 * 86400;
        seconds += Part(match, "d") * 86400;
        seconds += Part(match, "h") * 3600;
        seconds += Part(match, "mi") * 60;
        seconds += Part(match, "s");
        return (long)Math.Round(seconds * 1_000_000);
    }

    private static double Part(Match match, string group) =>
        match.Groups[group].Success ? double.Parse(match.Groups[group].Value.Replace(',', '.'), NumberStyles.Float, CultureInfo.InvariantCulture) : 0;

    [GeneratedRegex(@"^P(?:(?<y>\d+)Y)?(?:(?<mo>\d+)M)?(?:(?<w>\d+)W)?(?:(?<d>\d+)D)?(?:T(?:(?<h>\d+)H)?(?:(?<mi>\d+)M)?(?:(?<s>\d+(?:[.,]\d+)?)S)?)?$", RegexOptions.CultureInvariant)]
    private static partial Regex DurationPattern();

    private static void NoEnd(string? endTimeAt, string timerel)
    {
        if (endTimeAt is not null)
        {
            throw NgsiLdException.BadRequest($"endTimeAt is only allowed with timerel=between, not {timerel}.");
        }
    }

    private static string Clip(string text) => text.Length <= 80 ? text : text[..80] + "…";
}
