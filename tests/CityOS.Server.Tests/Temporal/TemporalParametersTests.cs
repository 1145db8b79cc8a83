using CityOS.Broker.Storage;
using CityOS.Broker.Temporal;
using CityOS.NgsiLd.Errors;

namespace CityOS.Server.Tests.Temporal;

/// <summary>Parsing and validation of timerel, timeAt, endTimeAt, timeproperty, lastN, aggrMethods and aggrPeriodDuration.</summary>
public sealed class TemporalParametersTests
{
    private static readonly long Jan1 = TemporalTime.Parse("2026-01-01T00:00:00Z")!.Value;
    private static readonly long Jan2 = TemporalTime.Parse("2026-01-02T00:00:00Z")!.Value;

    [Fact]
    public void Before_after_and_between_make_half_open_windows()
    {
        Assert.Equal(new TemporalWindow(TemporalProperty.ObservedAt, null, Jan1), TemporalParameters.Window("before", "2026-01-01T00:00:00Z", null, null));
        Assert.Equal(new TemporalWindow(TemporalProperty.ObservedAt, Jan1, null), TemporalParameters.Window("after", "2026-01-01T00:00:00Z", null, null));
        Assert.Equal(new TemporalWindow(TemporalProperty.ModifiedAt, Jan1, Jan2), TemporalParameters.Window("between", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", "modifiedAt"));
        Assert.Equal(new TemporalWindow(TemporalProperty.DeletedAt, null, null), TemporalParameters.Window(null, null, null, "deletedAt"));
    }

    [Theory]
    [InlineData("during", "2026-01-01T00:00:00Z", null, null)]
    [InlineData("after", null, null, null)]
    [InlineData("after", "2026-01-01", null, null)]
    [InlineData("after", "2026-01-01T00:00:00+01:00", null, null)]
    [InlineData("after", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", null)]
    [InlineData("between", "2026-01-01T00:00:00Z", null, null)]
    [InlineData("between", "2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z", null)]
    [InlineData("between", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", null)]
    [InlineData("after", "2026-01-01T00:00:00Z", null, "seenAt")]
    [InlineData(null, "2026-01-01T00:00:00Z", null, null)]
    public void Invalid_windows_are_BadRequestData(string? timerel, string? timeAt, string? endTimeAt, string? timeproperty)
    {
        var e = Assert.Throws<NgsiLdException>(() => TemporalParameters.Window(timerel, timeAt, endTimeAt, timeproperty));
        Assert.Equal(ErrorType.BadRequestData, e.Type);
    }

    [Theory]
    [InlineData("PT1H", 3_600_000_000L)]
    [InlineData("P1D", 86_400_000_000L)]
    [InlineData("P1W", 604_800_000_000L)]
    [InlineData("PT0S", 0L)]
    [InlineData("P1DT2H30M", 95_400_000_000L)]
    [InlineData("PT0.5S", 500_000L)]
    public void Durations_convert_to_microseconds(string text, long micros) =>
        Assert.Equal(micros, TemporalParameters.Duration(text));

    [Theory]
    [InlineData("1h")]
    [InlineData("P")]
    [InlineData("PT")]
    [InlineData("P1M")]
    [InlineData("P1Y")]
    [InlineData("PT-1H")]
    public void Invalid_or_calendar_durations_are_refused(string text) =>
        Assert.Equal(ErrorType.BadRequestData, Assert.Throws<NgsiLdException>(() => TemporalParameters.Duration(text)).Type);

    [Fact]
    public void Aggregation_methods_are_checked_and_deduplicated()
    {
        Assert.Equal(["avg", "max"], TemporalParameters.AggregationMethods("avg,max,avg"));
        Assert.Throws<NgsiLdException>(() => TemporalParameters.AggregationMethods("median"));
        Assert.Throws<NgsiLdException>(() => TemporalParameters.AggregationMethods(null));
        Assert.Throws<NgsiLdException>(() => TemporalParameters.AggregationMethods(","));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("ten")]
    public void LastN_must_be_a_positive_integer(string text) =>
        Assert.Throws<NgsiLdException>(() => TemporalParameters.LastN(text));

    [Fact]
    public void Instance_ids_round_trip_and_foreign_ones_are_refused()
    {
        Assert.Equal(42, TemporalIds.Parse(TemporalIds.Format(42)));
        Assert.Null(TemporalIds.Parse("urn:ngsi-ld:Instance:abc"));
        Assert.Null(TemporalIds.Parse("urn:uuid:5"));
    }

    [Fact]
    public void Times_round_trip_with_microseconds()
    {
        var micros = TemporalTime.Parse("2026-11-23T10:20:30.123456Z")!.Value;
        Assert.Equal("2026-11-23T10:20:30.123456Z", TemporalTime.Format(micros));
        Assert.Null(TemporalTime.Parse("2026-11-23T10:20:30.1234567Z"));
    }
}
