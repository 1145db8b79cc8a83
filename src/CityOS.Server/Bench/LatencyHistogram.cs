using System.Diagnostics;

namespace CityOS.Server.Bench;

/// <summary>
/// A fixed-size log-linear histogram of latencies in microseconds, safe for concurrent recording.
/// </summary>
/// <remarks>
/// Recording must not allocate and must not grow with the number of requests (a ten-second run at
/// 10,000 requests/s would otherwise keep 100,000 samples per scenario), so values are counted into
/// buckets: exact below 256 µs, and above that 128 buckets per power of two, which bounds the relative
/// error of a reported percentile to 1/128 (under 0.8 %). That is finer than the run-to-run noise of
/// any HTTP benchmark.
/// </remarks>
internal sealed class LatencyHistogram
{
    private const int SubBucketBits = 7;
    private const int SubBucketCount = 1 << SubBucketBits;          // 128 per power of two
    private const int LinearLimit = SubBucketCount * 2;              // values below are exact
    private const int MaxExponent = 40;                               // 2^40 µs ≈ 12.7 days: larger values are clamped
    private const int BucketCount = LinearLimit + ((MaxExponent - SubBucketBits - 1) * SubBucketCount);

    private readonly long[] _counts = new long[BucketCount];
    private long _count;
    private long _sum;
    private long _max;

    /// <summary>Number of recorded values.</summary>
    public long Count => Volatile.Read(ref _count);

    /// <summary>Largest recorded value in microseconds (exact, not bucketed).</summary>
    public long MaxMicroseconds => Volatile.Read(ref _max);

    /// <summary>Mean of the recorded values in microseconds (exact).</summary>
    public double MeanMicroseconds => Count == 0 ? 0 : (double)Volatile.Read(ref _sum) / Count;

    /// <summary>Records the time between two <see cref="Stopwatch.GetTimestamp"/> readings.</summary>
    public void RecordElapsed(long startTimestamp, long endTimestamp) =>
        Record(Stopwatch.GetElapsedTime(startTimestamp, endTimestamp).Ticks / TimeSpan.TicksPerMicrosecond);

    /// <summary>Records one value in microseconds; negative values count as 0.</summary>
    public void Record(long microseconds)
    {
        var value = Math.Clamp(microseconds, 0, (1L << MaxExponent) - 1);
        Interlocked.Increment(ref _counts[IndexOf(value)]);
        Interlocked.Increment(ref _count);
        Interlocked.Add(ref _sum, value);
        var max = Volatile.Read(ref _max);
        while (value > max)
        {
            var seen = Interlocked.CompareExchange(ref _max, value, max);
            if (seen == max)
            {
                break;
            }

            max = seen;
        }
    }

    /// <summary>
    /// The nearest-rank percentile in microseconds: the smallest recorded value (to bucket precision)
    /// such that at least <paramref name="percentile"/> % of the values are less than or equal to it.
    /// </summary>
    /// <returns>0 when nothing was recorded.</returns>
    public long Percentile(double percentile)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(percentile);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(percentile, 100);
        var total = Count;
        if (total == 0)
        {
            return 0;
        }

        var rank = Math.Max(1, (long)Math.Ceiling(percentile / 100 * total));
        long seen = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += Volatile.Read(ref _counts[i]);
            if (seen >= rank)
            {
                // The bucket's upper edge over-reports by at most one bucket width; the exact
                // maximum caps it so p100 and sparse tails never exceed what was observed.
                return Math.Min(UpperEdgeOf(i), MaxMicroseconds);
            }
        }

        return MaxMicroseconds;
    }

    /// <summary>p50, p95, p99, max and mean in milliseconds.</summary>
    public LatencySummary Summarize() => new()
    {
        P50 = Milliseconds(Percentile(50)),
        P95 = Milliseconds(Percentile(95)),
        P99 = Milliseconds(Percentile(99)),
        Max = Milliseconds(MaxMicroseconds),
        Mean = Math.Round(MeanMicroseconds / 1000, 3),
    };

    internal static int IndexOf(long value)
    {
        if (value < LinearLimit)
        {
            return (int)value;
        }

        var exponent = 63 - (int)long.LeadingZeroCount(value);     // ≥ SubBucketBits + 1
        var shift = exponent - SubBucketBits;
        var sub = (int)(value >> shift) - SubBucketCount;         // 0..127
        return LinearLimit + ((exponent - SubBucketBits - 1) * SubBucketCount) + sub;
    }

    internal static long UpperEdgeOf(int index)
    {
        if (index < LinearLimit)
        {
            return index;
        }

        var offset = index - LinearLimit;
        var exponent = (offset / SubBucketCount) + SubBucketBits + 1;
        var sub = (offset % SubBucketCount) + SubBucketCount;
        var shift = exponent - SubBucketBits;
        return ((long)(sub + 1) << shift) - 1;
    }

    private static double Milliseconds(long microseconds) => Math.Round(microseconds / 1000.0, 3);
}
