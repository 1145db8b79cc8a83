using CityOS.NgsiLd.Errors;
using CityOS.NgsiLd.JsonLd;
using CityOS.NgsiLd.Query;
using static CityOS.NgsiLd.Tests.Query.QueryFixtures;

namespace CityOS.NgsiLd.Tests.Query;

public sealed class QParserTests
{
    [Fact]
    public void Simple_comparison_parses_to_an_expanded_path_and_typed_literal()
    {
        var c = Assert.IsType<QComparison>(Parse("speed>=50"));
        Assert.Equal(D + "speed", c.Path.Attribute);
        Assert.True(c.Path.IsSimple);
        Assert.Equal(QOperator.GreaterOrEqual, c.Operator);
        var literal = Assert.IsType<QLiteral>(c.Value);
        Assert.Equal(QValueKind.Number, literal.Kind);
        Assert.Equal(50d, literal.Number);
    }

    [Theory]
    [InlineData("a==1", QOperator.Equal)]
    [InlineData("a!=1", QOperator.NotEqual)]
    [InlineData("a>1", QOperator.Greater)]
    [InlineData("a>=1", QOperator.GreaterOrEqual)]
    [InlineData("a<1", QOperator.Less)]
    [InlineData("a<=1", QOperator.LessOrEqual)]
    [InlineData("a~=x", QOperator.Matches)]
    [InlineData("a!~=x", QOperator.NotMatches)]
    public void Every_operator_is_recognised(string q, QOperator expected) =>
        Assert.Equal(expected, Assert.IsType<QComparison>(Parse(q)).Operator);

    [Theory]
    [InlineData("a==12", QValueKind.Number, "12")]
    [InlineData("a==-1.5e3", QValueKind.Number, "-1.5e3")]
    [InlineData("a==\"x y\"", QValueKind.String, "x y")]
    [InlineData("a==\"\"", QValueKind.String, "")]
    [InlineData("a==\"\\u0041\\n\\\\\"", QValueKind.String, "A\n\\")]
    [InlineData("a==true", QValueKind.Boolean, "true")]
    [InlineData("a==false", QValueKind.Boolean, "false")]
    [InlineData("a==2017-12-24T12:00:00Z", QValueKind.DateTime, "2017-12-24T12:00:00Z")]
    [InlineData("a==2017-12-24T12:00:00.123456Z", QValueKind.DateTime, "2017-12-24T12:00:00.123456Z")]
    [InlineData("a==2017-12-24", QValueKind.Date, "2017-12-24")]
    [InlineData("a==12:00:00Z", QValueKind.Time, "12:00:00Z")]
    [InlineData("a==urn:ngsi-ld:Building:1", QValueKind.Uri, "urn:ngsi-ld:Building:1")]
    [InlineData("a==https://example.org/x/y?z=1", QValueKind.Uri, "https://example.org/x/y?z=1")]
    public void Values_are_typed_by_their_lexical_form(string q, QValueKind kind, string text)
    {
        var literal = Assert.IsType<QLiteral>(Assert.IsType<QComparison>(Parse(q)).Value);
        Assert.Equal(kind, literal.Kind);
        Assert.Equal(text, literal.Text);
    }

    [Fact]
    public void DateTime_literal_is_parsed_as_utc_instant()
    {
        var literal = (QLiteral)((QComparison)Parse("a>2017-12-24T12:00:00Z")).Value;
        Assert.Equal(new DateTimeOffset(2017, 12, 24, 12, 0, 0, TimeSpan.Zero), literal.DateTime);
    }

    [Fact]
    public void String_and_uri_literals_carry_their_vocab_expansion()
    {
        var literal = (QLiteral)((QComparison)Parse("a==\"commercial\"")).Value;
        Assert.Equal(D + "commercial", literal.VocabIri);
        var number = (QLiteral)((QComparison)Parse("a==1")).Value;
        Assert.Null(number.VocabIri);
    }

    [Fact]
    public void Range_parses_to_two_bounds()
    {
        var range = Assert.IsType<QRange>(((QComparison)Parse("a==1..5")).Value);
        Assert.Equal(1d, range.Low.Number);
        Assert.Equal(5d, range.High.Number);
    }

    [Fact]
    public void Value_list_keeps_items_in_order()
    {
        var list = Assert.IsType<QValueList>(((QComparison)Parse("a==\"x\",2,true,urn:a:b")).Value);
        Assert.Equal(["x", "2", "true", "urn:a:b"], list.Items.Select(i => i.Text));
        Assert.Equal([QValueKind.String, QValueKind.Number, QValueKind.Boolean, QValueKind.Uri], list.Items.Select(i => i.Kind));
    }

    [Fact]
    public void And_binds_tighter_than_or_in_the_tree()
    {
        var or = Assert.IsType<QOr>(Parse("a;b|c;d"));
        Assert.Equal(2, or.Operands.Count);
        Assert.All(or.Operands, o => Assert.Equal(2, Assert.IsType<QAnd>(o).Operands.Count));
    }

    [Fact]
    public void Parentheses_regroup_the_tree()
    {
        var and = Assert.IsType<QAnd>(Parse("a;(b|c);d"));
        Assert.Equal(3, and.Operands.Count);
        Assert.IsType<QOr>(and.Operands[1]);
    }

    [Fact]
    public void Path_separates_sub_attributes_members_and_json_keys()
    {
        var path = ((QComparison)Parse("a.b.c.observedAt>2020-01-01T00:00:00Z")).Path;
        Assert.Equal(D + "a", path.Attribute);
        Assert.Equal([D + "b", D + "c"], path.SubAttributes);
        Assert.Equal("observedAt", path.Member);
        Assert.Empty(path.JsonKeys);
        Assert.False(path.IsSimple);

        var json = ((QComparison)Parse("a.b[x.y][z]==1")).Path;
        Assert.Equal([D + "b"], json.SubAttributes);
        Assert.Null(json.Member);
        Assert.Equal(["x", "y", "z"], json.JsonKeys);
        Assert.Null(json.Language);
    }

    [Theory]
    [InlineData("observedAt")]
    [InlineData("createdAt")]
    [InlineData("modifiedAt")]
    [InlineData("unitCode")]
    [InlineData("datasetId")]
    public void Instance_members_are_not_expanded(string member) =>
        Assert.Equal(member, ((QExists)Parse("a." + member)).Path.Member);

    [Fact]
    public void Single_bracket_key_is_offered_as_language()
    {
        Assert.Equal("fr", ((QExists)Parse("name[fr]")).Path.Language);
        Assert.Equal("*", ((QExists)Parse("name[*]")).Path.Language);
    }

    [Fact]
    public void Bang_prefix_parses_to_absence()
    {
        var absent = Assert.IsType<QAbsent>(Parse("!a.b"));
        Assert.Equal([D + "b"], absent.Path.SubAttributes);
    }

    [Fact]
    public void Quoted_regex_keeps_separators()
    {
        var pattern = Assert.IsType<QPattern>(((QComparison)Parse("a~=\"x;y|(z)\"")).Value);
        Assert.Equal("x;y|(z)", pattern.Pattern);
    }

    [Fact]
    public void Regex_is_culture_invariant_with_a_timeout()
    {
        var pattern = (QPattern)((QComparison)Parse("a~=\"x\"")).Value;
        Assert.True(pattern.Regex.Options.HasFlag(System.Text.RegularExpressions.RegexOptions.CultureInvariant));
        Assert.Equal(QPattern.MatchTimeout, pattern.Regex.MatchTimeout);
    }

    [Fact]
    public void Nesting_up_to_the_limit_is_accepted()
    {
        var q = new string('(', QParser.MaxDepth) + "a==1" + new string(')', QParser.MaxDepth);
        Assert.IsType<QComparison>(Parse(q));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("a==")]
    [InlineData("a=1")]
    [InlineData("a===1")]
    [InlineData("a<>1")]
    [InlineData("a==1;")]
    [InlineData(";a")]
    [InlineData("a||b")]
    [InlineData("a;;b")]
    [InlineData("|a")]
    [InlineData("(a")]
    [InlineData("a)")]
    [InlineData("()")]
    [InlineData("(a))")]
    [InlineData("a==\"unterminated")]
    [InlineData("a==\"bad\\q\"")]
    [InlineData("a==\"bad\\u12\"")]
    [InlineData("a==\"x\"y")]
    [InlineData("a==Berlin")]
    [InlineData("a==1x")]
    [InlineData("a==01")]
    [InlineData("a==1.")]
    [InlineData("a==.5")]
    [InlineData("a==1e999")]
    [InlineData("a==2017-13-45")]
    [InlineData("a==2017-12-24T25:00:00Z")]
    [InlineData("a>1..5")]
    [InlineData("a<=1,2")]
    [InlineData("a==1..")]
    [InlineData("a==1..\"x\"")]
    [InlineData("a==true..false")]
    [InlineData("a==1,")]
    [InlineData("a>true")]
    [InlineData("a<urn:x:y")]
    [InlineData("a~=\"(\"")]
    [InlineData("a~=\"\"")]
    [InlineData("a~=")]
    [InlineData("1a==1")]
    [InlineData(".a")]
    [InlineData("a.")]
    [InlineData("a..b")]
    [InlineData("a[")]
    [InlineData("a[]")]
    [InlineData("a[x")]
    [InlineData("a[x].b")]
    [InlineData("a[x.]")]
    [InlineData("a.observedAt.b")]
    [InlineData("a.observedAt[x]")]
    [InlineData("a{b}==1")]
    [InlineData("!a==1")]
    [InlineData("!")]
    [InlineData("!(a)")]
    [InlineData("a b")]
    [InlineData("a==1 2")]
    [InlineData("a==(1)")]
    public void Malformed_q_is_BadRequestData(string q) => Rejects(q);

    [Fact]
    public void Error_detail_points_at_the_position()
    {
        var detail = Rejects("speed==55;brand=Mercedes");
        Assert.Contains("position 15", detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Nesting_deeper_than_the_limit_is_rejected_without_overflowing_the_stack()
    {
        Rejects(new string('(', QParser.MaxDepth + 1) + "a" + new string(')', QParser.MaxDepth + 1));
        Rejects(new string('(', 100_000));
    }

    [Fact]
    public void Overlong_q_is_rejected() => Rejects("a==1" + string.Concat(Enumerable.Repeat("|a==1", QParser.MaxLength / 5)));

    [Fact]
    public void Random_garbage_only_ever_raises_BadRequestData()
    {
        // Seeded so a failure reproduces; the alphabet is weighted toward the grammar's own symbols.
        const string alphabet = "ab.[]()!=<>~;|,\"\\..01:-TZ *#{}u";
        var random = new Random(20261123);
        var entity = Vehicle();
        for (var i = 0; i < 5000; i++)
        {
            var chars = new char[random.Next(1, 24)];
            for (var j = 0; j < chars.Length; j++)
            {
                chars[j] = alphabet[random.Next(alphabet.Length)];
            }

            var q = new string(chars);
            try
            {
                QParser.Parse(q, LdContext.Core).Matches(entity);
            }
            catch (NgsiLdException e) when (e.Type == ErrorType.BadRequestData)
            {
            }
            catch (Exception e)
            {
                Assert.Fail($"q '{q}' threw {e.GetType().Name}: {e.Message}");
            }
        }
    }

    [Fact]
    public void Mutated_valid_queries_only_ever_raise_BadRequestData()
    {
        const string seed = "(temperature>=20;name[fr]==\"x\")|address[city.zip]==1..5|brand~=\"^M\"|d==2017-12-24T12:00:00Z,urn:a:b";
        var random = new Random(7);
        var entity = Vehicle();
        for (var i = 0; i < 3000; i++)
        {
            var chars = seed.ToCharArray();
            for (var k = random.Next(1, 4); k > 0; k--)
            {
                chars[random.Next(chars.Length)] = seed[random.Next(seed.Length)];
            }

            var q = new string(chars, 0, random.Next(1, chars.Length + 1));
            try
            {
                QParser.Parse(q, LdContext.Core).Matches(entity);
            }
            catch (NgsiLdException e) when (e.Type == ErrorType.BadRequestData)
            {
            }
            catch (Exception e)
            {
                Assert.Fail($"q '{q}' threw {e.GetType().Name}: {e.Message}");
            }
        }
    }
}
