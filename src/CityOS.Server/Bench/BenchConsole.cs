using System.Globalization;
using System.Text;

namespace CityOS.Server.Bench;

/// <summary>The human-readable lines <c>cityos bench</c> prints.</summary>
internal static class BenchConsole
{
    private const long Mebibyte = 1024 * 1024;

    /// <summary>One scenario on one line: achieved vs target, verdict, latency, errors, server memory.</summary>
    public static string FormatLine(ScenarioResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var line = new StringBuilder()
            .Append(result.Name.PadRight(10))
            .Append(' ').Append(FormatFigure(result.Achieved, result.Unit).PadLeft(20))
            .Append("  (target ").Append(FormatTarget(result)).Append(")  ")
            .Append(result.Met ? "MET   " : "MISSED");
        if (result.Unit == Units.LostUpdates && result.RequestsPerSecond is { } rate)
        {
            // The verdict is a count; the throughput under which it was reached belongs on the same line.
            line.Append(CultureInfo.InvariantCulture, $"  {rate:N0} updates/s");
        }

        if (result.LatencyMs is { } l)
        {
            line.Append(CultureInfo.InvariantCulture, $"  p50 {l.P50:0.00} ms  p95 {l.P95:0.00} ms  p99 {l.P99:0.00} ms");
        }

        line.Append(CultureInfo.InvariantCulture, $"  errors {result.Errors:N0}");
        if (result.ServerMemory is { } m)
        {
            line.Append(CultureInfo.InvariantCulture, $"  server RSS {m.VmRssBytes / Mebibyte:N0} MiB (peak {m.VmHwmBytes / Mebibyte:N0})");
        }

        return line.ToString();
    }

    /// <summary>The final table of every scenario.</summary>
    public static string FormatTable(IReadOnlyList<ScenarioResult> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        string[] header = ["scenario", "achieved", "target", "met", "p50 ms", "p95 ms", "p99 ms", "errors", "RSS MiB"];
        var rows = new List<string[]> { header };
        foreach (var r in results)
        {
            rows.Add(
            [
                r.Name,
                FormatFigure(r.Achieved, r.Unit),
                FormatTarget(r),
                r.Met ? "yes" : "NO",
                r.LatencyMs is { } a ? a.P50.ToString("0.00", CultureInfo.InvariantCulture) : "-",
                r.LatencyMs is { } b ? b.P95.ToString("0.00", CultureInfo.InvariantCulture) : "-",
                r.LatencyMs is { } c ? c.P99.ToString("0.00", CultureInfo.InvariantCulture) : "-",
                r.Errors.ToString("N0", CultureInfo.InvariantCulture),
                r.ServerMemory is { } m ? (m.VmRssBytes / Mebibyte).ToString("N0", CultureInfo.InvariantCulture) : "-",
            ]);
        }

        var widths = new int[header.Length];
        foreach (var row in rows)
        {
            for (var i = 0; i < row.Length; i++)
            {
                widths[i] = Math.Max(widths[i], row[i].Length);
            }
        }

        var table = new StringBuilder();
        for (var r = 0; r < rows.Count; r++)
        {
            for (var i = 0; i < header.Length; i++)
            {
                // Names and verdicts read left to right; figures line up on the right.
                var cell = i is 0 or 3 ? rows[r][i].PadRight(widths[i]) : rows[r][i].PadLeft(widths[i]);
                table.Append(i == 0 ? string.Empty : "  ").Append(cell);
            }

            table.Append('\n');
            if (r == 0)
            {
                table.Append('-', widths.Sum() + (2 * (widths.Length - 1))).Append('\n');
            }
        }

        return table.ToString();
    }

    private static string FormatTarget(ScenarioResult result) =>
        (result.Comparison == Comparisons.AtLeast ? "≥ " : "≤ ") + FormatFigure(result.Target, result.Unit);

    private static string FormatFigure(double? value, string unit) => value switch
    {
        null => "n/a",
        { } v when unit == Units.Milliseconds => v.ToString("0.00", CultureInfo.InvariantCulture) + " " + unit,
        { } v => v.ToString("N0", CultureInfo.InvariantCulture) + " " + unit,
    };
}

/// <summary>Units of scenario figures.</summary>
internal static class Units
{
    public const string RequestsPerSecond = "requests/s";
    public const string EntitiesPerSecond = "entities/s";
    public const string Milliseconds = "ms";
    public const string Mebibytes = "MiB";
    public const string LostUpdates = "lost updates";
}
