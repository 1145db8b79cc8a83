using System.Text.Json.Nodes;
using CityOS.NgsiLd.JsonLd;
using CityOS.NgsiLd.Query;
using static CityOS.NgsiLd.Tests.Query.QueryFixtures;

namespace CityOS.NgsiLd.Tests.Query;

public sealed class TypeExpressionTests
{
    private static TypeExpression Parse(string expression) => TypeExpressionParser.Parse(expression, LdContext.Core);

    private static JsonArray Types(params string[] names)
    {
        var array = new JsonArray();
        foreach (var name in names)
        {
            array.Add(D + name);
        }

        return array;
    }

    [Theory]
    [InlineData("Vehicle", true)]
    [InlineData("Building", false)]
    [InlineData("Vehicle,Building", true)]
    [InlineData("Building,Vehicle", true)]
    [InlineData("Building|Vehicle", true)]
    [InlineData("Building|Park", false)]
    [InlineData("(Vehicle;Asset)", true)]
    [InlineData("Vehicle;Asset", true)]
    [InlineData("(Vehicle;Building)", false)]
    [InlineData("(Vehicle;Building)|Asset", true)]
    [InlineData("(Vehicle;Building)|Park", false)]
    [InlineData("Park|(Vehicle;(Asset|Building))", true)]
    [InlineData("*", true)]
    [InlineData("Park,*", true)]
    public void Expression_matches_the_entity_types(string expression, bool expected) =>
        Assert.Equal(expected, Parse(expression).Matches(Types("Vehicle", "Asset")));

    [Fact]
    public void Names_are_expanded_with_the_context()
    {
        var name = Assert.IsType<TypeName>(Parse("Vehicle"));
        Assert.Equal(D + "Vehicle", name.Iri);
        Assert.Equal("https://example.org/T", Assert.IsType<TypeName>(Parse("https://example.org/T")).Iri);
    }

    [Fact]
    public void Types_lists_every_named_type_once()
    {
        Assert.Equal([D + "A", D + "B", D + "C"], Parse("(A;B)|C,A").Types);
        Assert.Empty(Parse("*").Types);
    }

    [Fact]
    public void Full_iri_types_match_parsed_entity_types()
    {
        var types = JsonNode.Parse("""["https://example.org/T", "https://example.org/U"]""")!.AsArray();
        Assert.True(Parse("https://example.org/U").Matches(types));
        Assert.False(Parse("https://example.org/V").Matches(types));
    }

    [Fact]
    public void Empty_type_list_matches_only_any()
    {
        Assert.False(Parse("A").Matches([]));
        Assert.True(Parse("*").Matches([]));
    }

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    [InlineData("A,")]
    [InlineData(",A")]
    [InlineData("A||B")]
    [InlineData("(A;B")]
    [InlineData("A;B)")]
    [InlineData("()")]
    [InlineData("A B")]
    [InlineData("1A")]
    [InlineData("A(B)")]
    public void Malformed_type_expression_is_BadRequestData(string expression)
    {
        var e = Assert.Throws<CityOS.NgsiLd.Errors.NgsiLdException>(() => Parse(expression));
        Assert.Equal(CityOS.NgsiLd.Errors.ErrorType.BadRequestData, e.Type);
    }

    [Fact]
    public void Deep_nesting_is_rejected()
    {
        var e = Assert.Throws<CityOS.NgsiLd.Errors.NgsiLdException>(() => Parse(new string('(', 10_000) + "A"));
        Assert.Equal(CityOS.NgsiLd.Errors.ErrorType.BadRequestData, e.Type);
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
                TypeExpressionParser.Parse(text, LdContext.Core).Matches(types);
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
