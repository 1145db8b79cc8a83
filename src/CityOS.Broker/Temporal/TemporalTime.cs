using System.Globalization;
using System.Text.Json.Nodes;
using CityOS.NgsiLd.Model;

namespace CityOS.Broker.Temporal;

/// <summary>The history's time unit: microseconds since the Unix epoch (UTC), the precision of NGSI-LD timestamps.</summary>
public static class TemporalTime
{
    private const long TicksPerMicrosecond = 10;

    /// <summary>The instant in microseconds since the epoch.</summary>
    public static long ToMicros(DateTimeOffset instant) => (instant.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / TicksPerMicrosecond;

    /// <summary>The instant of <paramref name="micros"/>.</summary>
    public static DateTimeOffset FromMicros(long micros) => DateTimeOffset.UnixEpoch.AddTicks(micros * TicksPerMicrosecond);

    /// <summary>The broker's timestamp text of <paramref name="micros"/>.</summary>
    public static string Format(long micros) => Timestamps.Format(FromMicros(micros));

    /// <summary>Microseconds of an NGSI-LD DateTime text; null when it is not one.</summary>
    public static long? Parse(string? text)
    {
        if (text is null || Timestamps.NormalizeDateTime(text) is not { } normalized)
        {
            return null;
        }

        return DateTimeOffset.TryParse(normalized, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var instant)
            ? ToMicros(instant)
            : null;
    }

    /// <summary>Microseconds of a timestamp member holding an NGSI-LD DateTime string; null otherwise.</summary>
    public static long? Parse(JsonNode? node) =>
        node is JsonValue value && value.TryGetValue(out string? text) ? Parse(text) : null;
}
