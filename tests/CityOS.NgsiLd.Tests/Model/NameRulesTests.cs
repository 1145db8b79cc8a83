using CityOS.NgsiLd.Model;

namespace CityOS.NgsiLd.Tests.Model;

public sealed class NameRulesTests
{
    [Theory]
    [InlineData("speed")]
    [InlineData("trạmQuanTrắc")]
    [InlineData("schema:name")]
    [InlineData("https://smartdatamodels.org/dataModel.Environment/pm25")]
    public void Valid_names(string name) => Assert.True(NameRules.IsValidName(name));

    [Theory]
    [InlineData("")]
    [InlineData("1speed")]
    [InlineData("bad name")]
    [InlineData("a-b")]
    [InlineData("\u0301abc")]
    public void Invalid_names(string name) => Assert.False(NameRules.IsValidName(name));

    [Fact]
    public void Vietnamese_names_in_decomposed_form_are_valid_and_kept_distinct_from_composed()
    {
        // "trạmQuanTrắc" with its marks as combining characters (the server runs in invariant globalization,
        // so the decomposition is written out rather than computed).
        const string decomposed = "tra\u0323mQuanTra\u0306\u0301c";
        Assert.NotEqual("trạmQuanTrắc", decomposed);
        Assert.True(NameRules.IsValidName(decomposed));
    }
}
