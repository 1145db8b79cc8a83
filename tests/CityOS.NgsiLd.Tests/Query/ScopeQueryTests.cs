using System.Text.Json.Nodes;
using CityOS.NgsiLd.Errors;
using CityOS.NgsiLd.Query;

namespace CityOS.NgsiLd.Tests.Query;

public sealed class ScopeQueryTests
{
    private static bool Matches(string scopeQ, params string[] scopes)
    {
        var array = new JsonArray();
        foreach (var scope in scopes)
        {
            array.Add(scope);
        }

        return ScopeQueryParser.Parse(scopeQ).Matches(array);
    }

    [Theory]
    [InlineData("/Madrid/Gardens", "/Madrid/Gardens", true)]
    [InlineData("/Madrid/Gardens", "/Madrid", false)]
    [InlineData("/Madrid/Gardens", "/Madrid/Gardens/ParqueNorte", false)]
    [InlineData("/Madrid/Gardens", "Madrid/Gardens", true)]
    [InlineData("Madrid/Gardens", "/Madrid/Gardens", true)]
    [InlineData("/Madrid", "/MadridX", false)]
    public void Plain_scope_matches_exactly(string scopeQ, string scope, bool expected) =>
        Assert.Equal(expected, Matches(scopeQ, scope));

    [Theory]
    [InlineData("/Madrid/#", "/Madrid", true)]
    [InlineData("/Madrid/#", "/Madrid/Gardens", true)]
    [InlineData("/Madrid/#", "/Madrid/Gardens/ParqueNorte", true)]
    [InlineData("/Madrid/#", "/MadridX/Gardens", false)]
    [InlineData("/Madrid/#", "/Spain/Madrid", false)]
    [InlineData("/#", "/Anything", true)]
    [InlineData("/#", "/a/b/c", true)]
    public void Hash_matches_the_scope_and_everything_below(string scopeQ, string scope, bool expected) =>
        Assert.Equal(expected, Matches(scopeQ, scope));

    [Theory]
    [InlineData("/Madrid/+/ParqueNorte", "/Madrid/Gardens/ParqueNorte", true)]
    [InlineData("/Madrid/+/ParqueNorte", "/Madrid/Parks/ParqueNorte", true)]
    [InlineData("/Madrid/+/ParqueNorte", "/Madrid/ParqueNorte", false)]
    [InlineData("/Madrid/+/ParqueNorte", "/Madrid/a/b/ParqueNorte", false)]
    [InlineData("/+", "/Madrid", true)]
    [InlineData("/+", "/Madrid/Gardens", false)]
    [InlineData("/+/#", "/Madrid/Gardens", true)]
    public void Plus_matches_exactly_one_level(string scopeQ, string scope, bool expected) =>
        Assert.Equal(expected, Matches(scopeQ, scope));

    [Fact]
    public void Entity_matches_when_any_of_its_scopes_matches()
    {
        Assert.True(Matches("/Berlin", "/Madrid", "/Berlin"));
        Assert.False(Matches("/Paris", "/Madrid", "/Berlin"));
    }

    [Theory]
    [InlineData("/Madrid;/Berlin", true)]
    [InlineData("/Madrid;/Paris", false)]
    [InlineData("/Madrid|/Paris", true)]
    [InlineData("/Madrid,/Paris", true)]
    [InlineData("/Rome,/Paris", false)]
    [InlineData("/Rome;/Paris|/Berlin", true)]
    [InlineData("/Rome;(/Paris|/Berlin)", false)]
    [InlineData("(/Rome|/Madrid);(/Paris|/Berlin/#)", true)]
    public void Boolean_operators_combine_patterns(string scopeQ, bool expected) =>
        Assert.Equal(expected, Matches(scopeQ, "/Madrid", "/Berlin"));

    [Theory]
    [InlineData("/#")]
    [InlineData("/a")]
    [InlineData("/+/#")]
    public void Missing_or_empty_scopes_match_nothing(string scopeQ)
    {
        var expression = ScopeQueryParser.Parse(scopeQ);
        Assert.False(expression.Matches(null));
        Assert.False(expression.Matches([]));
    }

    [Fact]
    public void Pattern_exposes_its_segments_for_index_lookups()
    {
        var pattern = Assert.IsType<ScopePattern>(ScopeQueryParser.Parse("/a/b"));
        Assert.Equal(["a", "b"], pattern.Segments);
        Assert.True(pattern.IsExact);
        Assert.False(Assert.IsType<ScopePattern>(ScopeQueryParser.Parse("/a/#")).IsExact);
    }

    [Theory]
    [InlineData("")]
    [InlineData("/")]
    [InlineData("//a")]
    [InlineData("/a//b")]
    [InlineData("/#/a")]
    [InlineData("/a#")]
    [InlineData("/a+/b")]
    [InlineData("/a;")]
    [InlineData("|/a")]
    [InlineData("(/a")]
    [InlineData("/a)")]
    [InlineData("()")]
    [InlineData("/a /b")]
    public void Malformed_scopeQ_is_BadRequestData(string scopeQ)
    {
        var e = Assert.Throws<NgsiLdException>(() => ScopeQueryParser.Parse(scopeQ));
        Assert.Equal(ErrorType.BadRequestData, e.Type);
    }

    [Fact]
    public void Random_garbage_only_ever_raises_BadRequestData()
    {
        const string alphabet = "ab/+#*(),;| .:";
        var random = new Random(42);
        var types = new JsonArray("a", "/a/b");
        for (var i = 0; i < 3000; i++)
        {
            var chars = new char[random.Next(1, 16)];
            for (var j = 0; j < chars.Length; j++)
            {
                chars[j] = alphabet[random.Next(alphabet.Length)];
            }

            var text = new string(chars);
            try
            {
                ScopeQueryParser.Parse(text).Matches(types);
            }
            catch (CityOS.NgsiLd.Errors.NgsiLdException e) when (e.Type == CityOS.NgsiLd.Errors.ErrorType.BadRequestData)
            {
            }
            catch (Exception e)
            {
                Assert.Fail($"'{text}' threw {e.GetType().Name}: {e.Message}");
            }
        }
    }
}
