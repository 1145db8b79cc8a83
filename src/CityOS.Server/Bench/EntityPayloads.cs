using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace CityOS.Server.Bench;

/// <summary>A longitude/latitude box that generated locations and reference points fall in.</summary>
internal readonly record struct GeoBox(string Name, double West, double South, double East, double North)
{
    /// <summary>Bounding box of Tỉnh Bình Dương's district polygons (shared/geo/binhduong-districts.geojson).</summary>
    public static readonly GeoBox BinhDuong = new("Bình Dương", 106.326, 10.864, 106.966, 11.501);

    /// <summary>Bounding box of TP. Đà Nẵng's mainland district polygons (shared/geo/danang-districts.geojson).</summary>
    public static readonly GeoBox DaNang = new("Đà Nẵng", 107.819, 15.918, 108.338, 16.216);

    /// <summary>The point at fractions (<paramref name="u"/>, <paramref name="v"/>) ∈ [0,1)² of the box, rounded to 6 decimals (≈ 0.1 m).</summary>
    public (double Lon, double Lat) At(double u, double v) =>
        (Math.Round(West + (u * (East - West)), 6), Math.Round(South + (v * (North - South)), 6));

    public bool Contains(double lon, double lat) => lon >= West && lon <= East && lat >= South && lat <= North;
}

/// <summary>
/// Request bodies of the scenarios: NGSI-LD normalized entities in the style of the Smart Data Models
/// (short names, resolved through the core context's @vocab), sent as <c>application/json</c>.
/// </summary>
internal static class EntityPayloads
{
    /// <summary>Entity type of the create, update and batch scenarios.</summary>
    public const string AirQualityType = "AirQualityObserved";

    /// <summary>Entity type of the seeded query/geo dataset.</summary>
    public const string WeatherType = "WeatherObserved";

    /// <summary>Entity type of the rss1m dataset.</summary>
    public const string NoiseType = "NoiseLevelObserved";

    /// <summary>Width of the zero-padded number that ends every generated id, so ids can be rewritten in place.</summary>
    public const int IdDigits = 12;

    /// <summary>The attribute the update scenario patches.</summary>
    public const string UpdatedAttribute = "no2";

    private static readonly JsonWriterOptions WriterOptions = new() { SkipValidation = true };

    /// <summary>The id of the <paramref name="number"/>th entity with the given prefix, e.g. <c>urn:ngsi-ld:WeatherObserved:bench-000000000042</c>.</summary>
    public static string Id(string prefix, long number) =>
        prefix + number.ToString("D12", CultureInfo.InvariantCulture);

    /// <summary>A small AirQualityObserved: four Properties and a location (about 400 bytes).</summary>
    public static void WriteAirQuality(Utf8JsonWriter writer, string id)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStartObject();
        writer.WriteString("id"u8, id);
        writer.WriteString("type"u8, AirQualityType);
        WriteNumberProperty(writer, "no2"u8, 45, "GQ"u8);
        WriteNumberProperty(writer, "co"u8, 500, "GP"u8);
        WriteNumberProperty(writer, "airQualityIndex"u8, 65, default);
        writer.WriteStartObject("airQualityLevel"u8);
        writer.WriteString("type"u8, "Property"u8);
        writer.WriteString("value"u8, "moderate"u8);
        writer.WriteEndObject();
        WriteLocation(writer, 106.6525, 10.9804);
        writer.WriteEndObject();
    }

    /// <summary>A small NoiseLevelObserved for the memory scenario: two Properties and a location.</summary>
    public static void WriteNoiseLevel(Utf8JsonWriter writer, string id)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStartObject();
        writer.WriteString("id"u8, id);
        writer.WriteString("type"u8, NoiseType);
        WriteNumberProperty(writer, "LAeq"u8, 67.8, default);
        WriteNumberProperty(writer, "LAmax"u8, 88.1, default);
        WriteLocation(writer, 108.2208, 16.0678);
        writer.WriteEndObject();
    }

    /// <summary>
    /// The <paramref name="number"/>th WeatherObserved of the query/geo dataset. Its values derive from the
    /// number only, so seeding twice (or in any order, concurrently) yields the same data:
    /// temperature uniform in [10, 40) °C (so <c>temperature&gt;20</c> matches about two thirds),
    /// relativeHumidity uniform in [0, 1), and a location in Bình Dương (even numbers) or Đà Nẵng (odd).
    /// </summary>
    public static void WriteWeather(Utf8JsonWriter writer, string idPrefix, long number)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var (temperature, humidity, lon, lat) = WeatherValues(number);
        Span<char> id = stackalloc char[idPrefix.Length + IdDigits];
        idPrefix.AsSpan().CopyTo(id);
        number.TryFormat(id[idPrefix.Length..], out _, "D12", CultureInfo.InvariantCulture);
        writer.WriteStartObject();
        writer.WriteString("id"u8, id);
        writer.WriteString("type"u8, WeatherType);
        WriteNumberProperty(writer, "temperature"u8, temperature, "CEL"u8);
        WriteNumberProperty(writer, "relativeHumidity"u8, humidity, default);
        writer.WriteStartObject("dateObserved"u8);
        writer.WriteString("type"u8, "Property"u8);
        writer.WriteString("value"u8, "2026-11-23T10:00:00Z"u8);
        writer.WriteEndObject();
        WriteLocation(writer, lon, lat);
        writer.WriteEndObject();
    }

    /// <summary>The generated values of the <paramref name="number"/>th WeatherObserved.</summary>
    public static (double Temperature, double Humidity, double Lon, double Lat) WeatherValues(long number)
    {
        var state = (ulong)number;
        var temperature = Math.Round(10 + (30 * Uniform(ref state)), 1);
        var humidity = Math.Round(Uniform(ref state), 2);
        var box = number % 2 == 0 ? GeoBox.BinhDuong : GeoBox.DaNang;
        var (lon, lat) = box.At(Uniform(ref state), Uniform(ref state));
        return (temperature, humidity, lon, lat);
    }

    /// <summary>A JSON array of WeatherObserved numbers [<paramref name="first"/>, <paramref name="first"/> + <paramref name="count"/>).</summary>
    public static void WriteWeatherBatch(IBufferWriter<byte> output, string idPrefix, long first, int count)
    {
        using var writer = new Utf8JsonWriter(output, WriterOptions);
        writer.WriteStartArray();
        for (var i = 0; i < count; i++)
        {
            WriteWeather(writer, idPrefix, first + i);
        }

        writer.WriteEndArray();
    }

    /// <summary>The Partial Attribute Update body: <c>{"type":"Property","value":…}</c>.</summary>
    public static void WritePartialUpdate(Utf8JsonWriter writer, double value)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStartObject();
        writer.WriteString("type"u8, "Property"u8);
        writer.WriteNumber("value"u8, value);
        writer.WriteEndObject();
    }

    /// <summary>
    /// A uniform double in [0, 1) from a SplitMix64 step: a pure function of the state, so generated
    /// datasets do not depend on which thread built which batch.
    /// </summary>
    public static double Uniform(ref ulong state)
    {
        state += 0x9E3779B97F4A7C15UL;
        var z = state;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (z >> 11) * (1.0 / (1UL << 53));
    }

    internal static Utf8JsonWriter CreateWriter(IBufferWriter<byte> output) => new(output, WriterOptions);

    private static void WriteNumberProperty(Utf8JsonWriter writer, ReadOnlySpan<byte> name, double value, ReadOnlySpan<byte> unitCode)
    {
        writer.WriteStartObject(name);
        writer.WriteString("type"u8, "Property"u8);
        writer.WriteNumber("value"u8, value);
        if (!unitCode.IsEmpty)
        {
            writer.WriteString("unitCode"u8, unitCode);
        }

        writer.WriteEndObject();
    }

    private static void WriteLocation(Utf8JsonWriter writer, double lon, double lat)
    {
        writer.WriteStartObject("location"u8);
        writer.WriteString("type"u8, "GeoProperty"u8);
        writer.WriteStartObject("value"u8);
        writer.WriteString("type"u8, "Point"u8);
        writer.WriteStartArray("coordinates"u8);
        writer.WriteNumberValue(lon);
        writer.WriteNumberValue(lat);
        writer.WriteEndArray();
        writer.WriteEndObject();
        writer.WriteEndObject();
    }
}

/// <summary>
/// A pre-serialised body in which only entity ids change: the JSON is written once with placeholder ids,
/// and each request rewrites just the fixed-width numbers at the recorded offsets in a per-worker copy.
/// </summary>
internal sealed class IdSlotTemplate
{
    private const byte Placeholder = (byte)'#';
    private readonly byte[] _bytes;
    private readonly int[] _slots;

    private IdSlotTemplate(byte[] bytes, int[] slots)
    {
        _bytes = bytes;
        _slots = slots;
    }

    /// <summary>Number of ids in the body.</summary>
    public int IdCount => _slots.Length;

    /// <summary>Body length in bytes.</summary>
    public int Length => _bytes.Length;

    /// <summary>
    /// Builds a body of <paramref name="count"/> entities (a JSON array when <paramref name="asArray"/>,
    /// else the single entity) written by <paramref name="writeEntity"/> with ids <paramref name="idPrefix"/>+number.
    /// </summary>
    public static IdSlotTemplate Create(string idPrefix, int count, bool asArray, Action<Utf8JsonWriter, string> writeEntity)
    {
        ArgumentNullException.ThrowIfNull(idPrefix);
        ArgumentNullException.ThrowIfNull(writeEntity);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        if (!asArray && count != 1)
        {
            throw new ArgumentException("A single-entity body holds exactly one id.", nameof(count));
        }

        var placeholderId = idPrefix + new string((char)Placeholder, EntityPayloads.IdDigits);
        var buffer = new ArrayBufferWriter<byte>(count * 512);
        using (var writer = EntityPayloads.CreateWriter(buffer))
        {
            if (asArray)
            {
                writer.WriteStartArray();
            }

            for (var i = 0; i < count; i++)
            {
                writeEntity(writer, placeholderId);
            }

            if (asArray)
            {
                writer.WriteEndArray();
            }
        }

        var bytes = buffer.WrittenSpan.ToArray();
        var marker = Encoding.UTF8.GetBytes(placeholderId);
        var slots = new List<int>(count);
        var from = 0;
        while (from < bytes.Length)
        {
            var at = bytes.AsSpan(from).IndexOf(marker);
            if (at < 0)
            {
                break;
            }

            slots.Add(from + at + marker.Length - EntityPayloads.IdDigits);
            from += at + marker.Length;
        }

        if (slots.Count != count)
        {
            throw new InvalidOperationException($"Expected {count} id placeholders in the template, found {slots.Count}: the id prefix must be written unescaped.");
        }

        return new IdSlotTemplate(bytes, [.. slots]);
    }

    /// <summary>A private copy of the body for one worker to rewrite.</summary>
    public byte[] CreateBuffer() => (byte[])_bytes.Clone();

    /// <summary>Writes ids <paramref name="firstNumber"/>, +1, … into the slots of <paramref name="buffer"/> (a copy from <see cref="CreateBuffer"/>).</summary>
    public void Fill(byte[] buffer, long firstNumber)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        ArgumentOutOfRangeException.ThrowIfNegative(firstNumber);
        for (var i = 0; i < _slots.Length; i++)
        {
            WriteDigits(buffer.AsSpan(_slots[i], EntityPayloads.IdDigits), firstNumber + i);
        }
    }

    private static void WriteDigits(Span<byte> slot, long number)
    {
        for (var i = slot.Length - 1; i >= 0; i--)
        {
            slot[i] = (byte)('0' + (number % 10));
            number /= 10;
        }

        if (number != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(number), "Id number wider than the slot.");
        }
    }
}
