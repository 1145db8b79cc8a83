using System.Net;
using CityOS.Server.Bench;

namespace CityOS.Server.Tests.Bench;

public sealed class LoopbackTargetTests
{
    [Theory]
    [InlineData("http://127.0.0.1:1026", "http://127.0.0.1:1026")]
    [InlineData("http://127.5.6.7:8080/", "http://127.5.6.7:8080")]
    [InlineData("http://localhost:1026", "http://localhost:1026")]
    [InlineData("https://LOCALHOST", "https://localhost")]
    [InlineData("http://[::1]:1026", "http://[::1]:1026")]
    [InlineData("http://127.0.0.1:1026/cityos/", "http://127.0.0.1:1026/cityos")]
    public void Loopback_targets_are_accepted(string text, string expected)
    {
        Assert.True(LoopbackTarget.TryParse(text, out var target, out var error), error);
        Assert.Equal(expected, target.GetLeftPart(UriPartial.Path).TrimEnd('/'));
    }

    [Theory]
    [InlineData("http://10.0.0.1:1026")]
    [InlineData("http://192.168.1.20")]
    [InlineData("http://example.com")]
    [InlineData("http://localhost.example.com")]
    [InlineData("http://[2001:db8::1]:1026")]
    [InlineData("http://0.0.0.0:1026")]
    public void Remote_targets_are_refused_with_the_rule_named(string text)
    {
        Assert.False(LoopbackTarget.TryParse(text, out _, out var error));
        Assert.Contains("not a loopback address", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("127.0.0.1:1026")]
    [InlineData("ftp://127.0.0.1")]
    [InlineData("http://127.0.0.1:1026/?x=1")]
    public void Malformed_targets_are_refused(string text) =>
        Assert.False(LoopbackTarget.TryParse(text, out _, out _));

    [Fact]
    public void Ipv4_mapped_loopback_counts_as_loopback()
    {
        Assert.True(LoopbackTarget.IsLoopback(IPAddress.Parse("::ffff:127.0.0.1")));
        Assert.False(LoopbackTarget.IsLoopback(IPAddress.Parse("::ffff:10.0.0.1")));
    }
}
