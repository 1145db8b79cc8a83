using CityOS.Server.Bench;

namespace CityOS.Server.Tests.Bench;

public sealed class LatencyHistogramTests
{
    [Fact]
    public void Percentiles_of_small_values_are_exact_nearest_rank()
    {
        var histogram = new LatencyHistogram();
        for (var v = 1; v <= 100; v++)
        {
            histogram.Record(v);
        }

        Assert.Equal(50, histogram.Percentile(50));
        Assert.Equal(95, histogram.Percentile(95));
        Assert.Equal(99, histogram.Percentile(99));
        Assert.Equal(100, histogram.Percentile(100));
        Assert.Equal(1, histogram.Percentile(0.5));
        Assert.Equal(50.5, histogram.MeanMicroseconds);
    }

    [Fact]
    public void Percentiles_of_large_values_stay_within_one_percent()
    {
        var histogram = new LatencyHistogram();
        var values = Enumerable.Range(0, 10_000).Select(i => 1_000L + (i * 997L)).ToArray();
        foreach (var v in values.Reverse())
        {
            histogram.Record(v);
        }

        foreach (var p in new[] { 50.0, 95.0, 99.0 })
        {
            var exact = values[(int)Math.Ceiling(p / 100 * values.Length) - 1];
            var reported = histogram.Percentile(p);
            Assert.InRange(reported, exact, exact * 1.01);
        }
    }

    [Fact]
    public void Percentile_never_exceeds_the_recorded_maximum()
    {
        var histogram = new LatencyHistogram();
        histogram.Record(1_000_001);
        Assert.Equal(1_000_001, histogram.Percentile(99));
        Assert.Equal(1_000_001, histogram.MaxMicroseconds);
    }

    [Fact]
    public void Empty_histogram_reports_zero()
    {
        var histogram = new LatencyHistogram();
        Assert.Equal(0, histogram.Percentile(95));
        Assert.Equal(0, histogram.Summarize().P99);
    }

    [Fact]
    public void Summary_is_in_milliseconds()
    {
        var histogram = new LatencyHistogram();
        histogram.Record(1_500);
        histogram.Record(200);
        var summary = histogram.Summarize();
        Assert.Equal(0.2, summary.P50);
        Assert.InRange(summary.P99, 1.5, 1.5 * 1.01);
        Assert.Equal(1.5, summary.Max);
        Assert.Equal(0.85, summary.Mean);
    }

    [Fact]
    public void Every_bucket_upper_edge_maps_back_to_its_bucket_and_edges_increase()
    {
        long previous = -1;
        for (var i = 0; i < 4352; i++)
        {
            var edge = LatencyHistogram.UpperEdgeOf(i);
            Assert.True(edge > previous, $"bucket {i}");
            Assert.Equal(i, LatencyHistogram.IndexOf(edge));
            Assert.Equal(i, LatencyHistogram.IndexOf(previous + 1));
            previous = edge;
        }
    }

    [Fact]
    public void Negative_and_huge_values_are_clamped_not_lost()
    {
        var histogram = new LatencyHistogram();
        histogram.Record(-5);
        histogram.Record(long.MaxValue);
        Assert.Equal(2, histogram.Count);
        Assert.Equal(0, histogram.Percentile(50));
    }

    [Fact]
    public async Task Concurrent_recording_counts_every_value()
    {
        var histogram = new LatencyHistogram();
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            for (var v = 0; v < 10_000; v++)
            {
                histogram.Record(v % 500);
            }
        })));
        Assert.Equal(40_000, histogram.Count);
        Assert.Equal(499, histogram.MaxMicroseconds);
    }
}
