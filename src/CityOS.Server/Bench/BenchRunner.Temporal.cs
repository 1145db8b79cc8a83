using System.Buffers;
using System.Globalization;
using System.Text.Json;

namespace CityOS.Server.Bench;

/// <summary>The temporal scenario: one sensor attribute with a long history, aggregated and read by lastN.</summary>
internal sealed partial class BenchRunner
{
    private const string TemporalType = "TemporalSensor";
    private const string TemporalAttribute = "temperature";
    private const double AggregationTargetMs = 200;
    private const double LastNTargetMs = 20;
    private const int TemporalWindows = 64;

    /// <summary>Seconds between two back-filled readings: 1,000,000 of them span about 347 days.</summary>
    internal const int TemporalSpacingSeconds = 30;

    /// <summary>The first back-filled reading's time.</summary>
    internal static readonly DateTimeOffset TemporalStart = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private async Task<List<ScenarioResult>> TemporalAsync(CancellationToken cancellationToken)
    {
        var instances = _options.TemporalInstances;
        var batchSize = Math.Min(_options.TemporalBatchSize, instances);
        var id = IdPrefix(TemporalType, "bench-t-" + _runId);
        var load = NewResult(
            ScenarioNames.Temporal + "-load",
            $"POST /ngsi-ld/v1/temporal/entities, back-filling {instances:N0} readings of one attribute ({batchSize:N0} per request, temporalValues form, one every {TemporalSpacingSeconds} s)",
            20_000,
            Units.EntitiesPerSecond,
            Comparisons.AtLeast);
        var end = TemporalStart.AddSeconds((double)instances * TemporalSpacingSeconds);
        var aggregate = NewResult(
            ScenarioNames.Temporal + "-aggr",
            $"GET /ngsi-ld/v1/temporal/entities/{{id}}?options=aggregatedValues&aggrMethods=avg,min,max&aggrPeriodDuration=PT1H over 30 days ({30 * 86400 / TemporalSpacingSeconds:N0} instances) of {instances:N0}, {TemporalWindows} windows cycled, one request at a time",
            AggregationTargetMs,
            Units.Milliseconds,
            Comparisons.AtMost);
        var lastN = NewResult(
            ScenarioNames.Temporal + "-lastn",
            $"GET /ngsi-ld/v1/temporal/entities/{{id}}?attrs={TemporalAttribute}&lastN=100 of {instances:N0} instances, one request at a time",
            LastNTargetMs,
            Units.Milliseconds,
            Comparisons.AtMost);
        List<ScenarioResult> results = [load, aggregate, lastN];

        // The first batch creates the entity (201); the rest append to its history (204), several in flight.
        await _output.WriteLineAsync($"temporal: back-filling {instances:N0} instances into {id}…").ConfigureAwait(false);
        var uri = Api("temporal/entities");
        var batches = (instances + batchSize - 1) / batchSize;
        HttpRequestMessage BuildBatch(long sequence) => JsonRequest(HttpMethod.Post, uri, TemporalBatch(id, sequence * batchSize, (int)Math.Min(batchSize, instances - (sequence * batchSize))));
        var first = await _load.RunAsync(1, _options.SeedTimeout, 1, (_, s) => BuildBatch(s), cancellationToken).ConfigureAwait(false);
        var rest = batches > 1
            ? await _load.RunAsync(Math.Min(_options.Concurrency, _options.ModestConcurrency), _options.SeedTimeout, batches - 1, (_, s) => BuildBatch(s + 1), cancellationToken).ConfigureAwait(false)
            : null;
        var loaded = first.Successes + (rest?.Successes ?? 0);
        var loadSeconds = first.ElapsedSeconds + (rest?.ElapsedSeconds ?? 0);
        Record(load, rest ?? first, batchSize);
        load.Requests = loaded;
        load.Errors = first.Errors + (rest?.Errors ?? 0);
        load.DurationSeconds = Math.Round(loadSeconds, 3);
        load.EntitiesPerSecond = loadSeconds > 0 ? Math.Round(Math.Min(loaded * (long)batchSize, instances) / loadSeconds, 1) : null;
        load.FirstError = first.FirstError ?? rest?.FirstError;
        load.SetAchieved(load.EntitiesPerSecond);
        load.Note = Join(load.Note, $"{loaded:N0} of {batches:N0} requests succeeded in {loadSeconds:N1} s.");
        if (loaded < batches)
        {
            load.Met = false;
            foreach (var r in results.Skip(1))
            {
                r.Note = "the history could not be loaded whole; nothing measured.";
                r.SetAchieved(null);
            }

            return results;
        }

        var attribute = Uri.EscapeDataString(TemporalAttribute);
        var windows = TemporalAggregationUris(id, attribute, end);
        var lastNUri = Api($"temporal/entities/{Uri.EscapeDataString(id)}?attrs={attribute}&lastN=100");
        foreach (var (result, uris) in new[] { (aggregate, windows), (lastN, new[] { lastNUri }) })
        {
            var sample = await SampleTemporalAsync(uris[0], cancellationToken).ConfigureAwait(false);
            var phase = await TimedAsync(1, (_, sequence) => new HttpRequestMessage(HttpMethod.Get, uris[sequence % uris.Length]), cancellationToken).ConfigureAwait(false);
            Record(result, phase, entitiesPerRequest: null);
            result.SetAchieved(phase.Successes > 0 ? result.LatencyMs!.P95 : null);
            if (phase.Errors > 0)
            {
                result.Met = false;
                result.Note = Join(result.Note, $"not met: {phase.Errors:N0} requests failed.");
            }

            result.Note = Join(sample, result.Note);
        }

        return results;
    }

    /// <summary>Hourly avg/min/max over 30-day windows spread over the back-filled span (the last one ends at its end).</summary>
    private Uri[] TemporalAggregationUris(string id, string attribute, DateTimeOffset end)
    {
        var span = end - TemporalStart;
        var window = TimeSpan.FromDays(30);
        var room = span > window ? span - window : TimeSpan.Zero;
        var uris = new Uri[TemporalWindows];
        for (var i = 0; i < TemporalWindows; i++)
        {
            // Whole hours, so that buckets line up with the readings.
            var offset = TimeSpan.FromHours(Math.Floor(room.TotalHours * (TemporalWindows - 1 - i) / Math.Max(1, TemporalWindows - 1)));
            var from = TemporalStart + offset;
            var to = from + window;
            uris[i] = Api(string.Create(
                CultureInfo.InvariantCulture,
                $"temporal/entities/{Uri.EscapeDataString(id)}?attrs={attribute}&options=aggregatedValues&aggrMethods=avg,min,max&aggrPeriodDuration=PT1H&timerel=between&timeAt={Time(from)}&endTimeAt={Time(to)}"));
        }

        return uris;
    }

    private static string Time(DateTimeOffset instant) => instant.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>One provision body: readings first..first+count-1, a slow sine around 25 °C with a little noise.</summary>
    internal static ReadOnlyMemory<byte> TemporalBatch(string id, long first, int count)
    {
        var buffer = new ArrayBufferWriter<byte>(64 + (count * 48));
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("id", id);
            writer.WriteString("type", TemporalType);
            writer.WriteStartObject(TemporalAttribute);
            writer.WriteString("type", "Property");
            writer.WriteString("unitCode", "CEL");
            writer.WriteStartArray("values");
            for (var i = first; i < first + count; i++)
            {
                var value = Math.Round(25 + (8 * Math.Sin(i * 2 * Math.PI / 2880)) + (((i * 7919) % 100) / 100.0), 2);
                writer.WriteStartArray();
                writer.WriteNumberValue(value);
                writer.WriteStringValue(Time(TemporalStart.AddSeconds((double)i * TemporalSpacingSeconds)));
                writer.WriteEndArray();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        return buffer.WrittenMemory;
    }

    private async Task<string> SampleTemporalAsync(Uri uri, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await _client.GetAsync(uri, cancellationToken).ConfigureAwait(false);
            var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            using var document = JsonDocument.Parse(body);
            var attribute = document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty(TemporalAttribute, out var a) ? a : default;
            var size = attribute.ValueKind switch
            {
                JsonValueKind.Array => attribute.GetArrayLength(),
                JsonValueKind.Object when attribute.TryGetProperty("avg", out var avg) => avg.GetArrayLength(),
                JsonValueKind.Object => 1,
                _ => 0,
            };
            return $"sample: HTTP {(int)response.StatusCode}, {size:N0} {(attribute.ValueKind == JsonValueKind.Object && attribute.TryGetProperty("avg", out _) ? "hourly buckets" : "instances")}.";
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or TaskCanceledException)
        {
            return $"sample failed: {e.Message}";
        }
    }
}
