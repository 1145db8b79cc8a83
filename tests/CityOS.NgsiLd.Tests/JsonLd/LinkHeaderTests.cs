using CityOS.NgsiLd.Errors;
using CityOS.NgsiLd.JsonLd;

namespace CityOS.NgsiLd.Tests.JsonLd;

public sealed class LinkHeaderTests
{
    private const string Url = "https://example.org/context.jsonld";

    [Theory]
    [InlineData("<https://example.org/context.jsonld>; rel=\"http://www.w3.org/ns/json-ld#context\"; type=\"application/ld+json\"")]
    [InlineData("<https://example.org/context.jsonld>;rel=\"http://www.w3.org/ns/json-ld#context\";type=\"application/ld+json\"")]
    [InlineData("  < https://example.org/context.jsonld >  ;  rel = \"http://www.w3.org/ns/json-ld#context\" ; type=\"application/ld+json\"  ")]
    [InlineData("<https://example.org/context.jsonld>; type=\"application/ld+json\"; rel=\"http://www.w3.org/ns/json-ld#context\"")]
    [InlineData("<https://example.org/context.jsonld>; rel=http://www.w3.org/ns/json-ld#context")]
    [InlineData("<https://example.org/context.jsonld>; REL=\"http://www.w3.org/ns/json-ld#context\";")]
    [InlineData("<https://example.org/context.jsonld>; rel=\"alternate http://www.w3.org/ns/json-ld#context\"")]
    [InlineData("<https://example.org/page2>; rel=\"next\", <https://example.org/context.jsonld>; rel=\"http://www.w3.org/ns/json-ld#context\"")]
    [InlineData("<https://example.org/context.jsonld>; rel=\"http://www.w3.org/ns/json-ld#context\", <https://example.org/a,b>; rel=\"next\"; title=\"x, y\"")]
    public void The_context_url_is_found_in_tolerated_spellings(string header) =>
        Assert.Equal(Url, LinkHeader.ParseContextUrl(header));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("<https://example.org/page2>; rel=\"next\"")]
    public void No_context_link_gives_null(string? header) =>
        Assert.Null(LinkHeader.ParseContextUrl(header));

    [Theory]
    [InlineData("https://example.org/context.jsonld")]
    [InlineData("<https://example.org/context.jsonld")]
    [InlineData("<https://example.org/context.jsonld> rel=\"http://www.w3.org/ns/json-ld#context\"")]
    [InlineData("<https://example.org/context.jsonld>; rel=\"http://www.w3.org/ns/json-ld#context")]
    [InlineData("<https://example.org/context.jsonld>; =\"x\"")]
    [InlineData("<https://example.org/context.jsonld>; rel=")]
    [InlineData("<relative/context.jsonld>; rel=\"http://www.w3.org/ns/json-ld#context\"")]
    [InlineData("<ftp://example.org/context.jsonld>; rel=\"http://www.w3.org/ns/json-ld#context\"")]
    [InlineData("<https://example.org/a.jsonld>; rel=\"http://www.w3.org/ns/json-ld#context\", <https://example.org/b.jsonld>; rel=\"http://www.w3.org/ns/json-ld#context\"")]
    [InlineData("<https://example.org/a.jsonld>; rel=\"http://www.w3.org/ns/json-ld#context\" <https://example.org/b.jsonld>")]
    public void Malformed_or_doubled_context_links_are_bad_request_data(string header) =>
        Assert.Equal(ErrorType.BadRequestData, Assert.Throws<NgsiLdException>(() => LinkHeader.ParseContextUrl(header)).Type);

    [Fact]
    public void Context_links_on_separate_header_lines_count_together()
    {
        string?[] oneContext = ["<https://example.org/page2>; rel=\"next\"", LinkHeader.Format(Url)];
        string?[] twoContexts = [LinkHeader.Format(Url), LinkHeader.Format("https://example.org/other.jsonld")];

        Assert.Equal(Url, LinkHeader.ParseContextUrl(oneContext));
        Assert.Equal(ErrorType.BadRequestData, Assert.Throws<NgsiLdException>(() => LinkHeader.ParseContextUrl(twoContexts)).Type);
    }

    [Fact]
    public void Format_writes_the_exact_header_and_parses_back()
    {
        var header = LinkHeader.Format(Url);
        Assert.Equal("<https://example.org/context.jsonld>; rel=\"http://www.w3.org/ns/json-ld#context\"; type=\"application/ld+json\"", header);
        Assert.Equal(Url, LinkHeader.ParseContextUrl(header));
    }
}
