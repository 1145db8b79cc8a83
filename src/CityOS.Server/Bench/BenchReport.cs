using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace CityOS.Server.Bench;

/// <summary>The results file written by <c>cityos bench --out</c>: one run, its machine, its settings and every scenario.</summary>
internal sealed class BenchReport
{
    public string Tool { get; init; } = "cityos bench";

    public required string ToolVersion { get; init; }

    /// <summary>UTC start of the run, ISO 8601.</summary>
    public required string Date { get; init; }

    public required string Target { get; init; }

    /// <summary>The second node of the twonode scenario, when one was given.</summary>
    public string? Target2 { get; init; }

    /// <summary>The server's own <c>/version</c> answer, when it gave one.</summary>
    public string? ServerVersion { get; set; }

    /// <summary>The server's storage backend from <c>/version</c> ("sqlite", "postgres"), which sets the write targets.</summary>
    public string? Store { get; set; }

    public required MachineInfo Machine { get; init; }

    public required BenchSettingsReport Settings { get; init; }

    /// <summary>True when every requested scenario ran to its end (missed targets still count as completed).</summary>
    public bool Completed { get; set; }

    public List<ScenarioResult> Scenarios { get; init; } = [];
}

/// <summary>The machine the load generator ran on (the server shares it: only loopback targets are allowed).</summary>
internal sealed class MachineInfo
{
    public required int Cores { get; init; }

    public string? CpuModel { get; init; }

    public long? MemoryBytes { get; init; }

    public required string Os { get; init; }

    public required string Architecture { get; init; }

    public required string Runtime { get; init; }
}

/// <summary>The settings the run used, as given on the command line or defaulted.</summary>
internal sealed class BenchSettingsReport
{
    public required IReadOnlyList<string> Scenarios { get; init; }

    public required int DurationSeconds { get; init; }

    /// <summary>Seconds of unmeasured load before each timed phase.</summary>
    public double WarmupSeconds { get; init; }

    public required int Concurrency { get; init; }

    public required int Entities { get; init; }

    public required int BatchSize { get; init; }

    public string? Tenant { get; init; }

    public int? ServerPid { get; init; }
}

/// <summary>One scenario's outcome: the figure the issue asks for, the figure achieved, and the detail behind it.</summary>
internal sealed class ScenarioResult
{
    public required string Name { get; init; }

    public required string Description { get; init; }

    /// <summary>The figure asked for (issue #2).</summary>
    public required double Target { get; init; }

    /// <summary>The figure reached; null when it could not be measured (e.g. RSS without --server-pid).</summary>
    public double? Achieved { get; set; }

    public required string Unit { get; init; }

    /// <summary><c>atLeast</c> for throughputs, <c>atMost</c> for latencies and memory.</summary>
    public required string Comparison { get; init; }

    public bool Met { get; set; }

    public int Concurrency { get; set; }

    public double DurationSeconds { get; set; }

    /// <summary>Requests answered with a success status.</summary>
    public long Requests { get; set; }

    /// <summary>Non-2xx answers, 207 partial failures, and requests that got no answer.</summary>
    public long Errors { get; set; }

    public double? RequestsPerSecond { get; set; }

    public double? EntitiesPerSecond { get; set; }

    /// <summary>Latency of the successful requests (failed ones are only counted in <see cref="Errors"/>).</summary>
    public LatencySummary? LatencyMs { get; set; }

    public ServerMemory? ServerMemory { get; set; }

    /// <summary>
    /// twonode: updates acknowledged (2xx) that either node's read-back does not show; any makes the scenario not met.
    /// </summary>
    public long? LostUpdates { get; set; }

    /// <summary>The first failure seen (status and body, or exception message), shortened.</summary>
    public string? FirstError { get; set; }

    public string? Note { get; set; }

    /// <summary>Sets <see cref="Achieved"/> and derives <see cref="Met"/> from the comparison.</summary>
    public void SetAchieved(double? achieved)
    {
        Achieved = achieved is { } a ? Math.Round(a, 3) : null;
        Met = achieved is { } v && (Comparison == Comparisons.AtLeast ? v >= Target : v <= Target);
    }
}

/// <summary>Comparison kinds of a scenario target.</summary>
internal static class Comparisons
{
    public const string AtLeast = "atLeast";
    public const string AtMost = "atMost";
}

/// <summary>Latency percentiles in milliseconds.</summary>
internal sealed class LatencySummary
{
    public double P50 { get; init; }

    public double P95 { get; init; }

    public double P99 { get; init; }

    public double Max { get; init; }

    public double Mean { get; init; }
}

/// <summary>The server process's memory read from <c>/proc/&lt;pid&gt;/status</c>.</summary>
internal sealed class ServerMemory
{
    /// <summary>Resident set size now.</summary>
    public long VmRssBytes { get; init; }

    /// <summary>Peak resident set size since the process started.</summary>
    public long VmHwmBytes { get; init; }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(BenchReport))]
internal sealed partial class BenchJsonContext : JsonSerializerContext;

/// <summary>Writes the results file.</summary>
internal static class BenchReportFile
{
    public static async Task WriteAsync(BenchReport report, string path, CancellationToken cancellationToken)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        // Write beside and move, so an interrupted run never leaves a half-written results file.
        var temporary = path + ".tmp";
        // Relaxed escaping keeps '+', '→' and Vietnamese names readable; the file is never embedded in HTML.
        var buffer = new ArrayBufferWriter<byte>(16 * 1024);
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            JsonSerializer.Serialize(writer, report, BenchJsonContext.Default.BenchReport);
        }

        var stream = File.Create(temporary);
        await using (stream.ConfigureAwait(false))
        {
            await stream.WriteAsync(buffer.WrittenMemory, cancellationToken).ConfigureAwait(false);
        }

        File.Move(temporary, path, overwrite: true);
    }
}
