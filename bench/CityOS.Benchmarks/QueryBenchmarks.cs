using System.Text.Json.Nodes;
using BenchmarkDotNet.Attributes;
using CityOS.NgsiLd.JsonLd;
using CityOS.NgsiLd.Query;

namespace CityOS.Benchmarks;

/// <summary>
/// q parsing (once per request) and evaluation (once per candidate entity, the hot path).
/// Run: <c>dotnet run -c Release --project bench/CityOS.Benchmarks -- --filter *QueryBenchmarks*</c>
/// </summary>
[MemoryDiagnoser]
public class QueryBenchmarks
{
    private const string D = "https://uri.etsi.org/ngsi-ld/default-context/";
    private const string SimpleQ = "speed>50";
    private const string ComplexQ =
        "(speed>=50;speed<=60;brand==\"Mercedes\")|address[city]==\"Berlin\",\"Paris\"|speed.observedAt>2026-01-01T00:00:00Z;name[fr]~=\"^Auto\"";

    private JsonObject _entity = null!;
    private QExpression _simple = null!;
    private QExpression _complex = null!;
    private QExpression _miss = null!;
    private TypeExpression _type = null!;
    private ScopeExpression _scope = null!;
    private JsonArray _types = null!;
    private JsonArray _scopes = null!;

    [GlobalSetup]
    public void Setup()
    {
        _entity = JsonNode.Parse($$"""
        {
          "id": "urn:ngsi-ld:Vehicle:A1",
          "type": ["{{D}}Vehicle"],
          "scope": ["/Berlin/Mitte"],
          "{{D}}speed": [{ "type": "Property", "value": 55, "observedAt": "2026-11-23T09:59:00Z" }],
          "{{D}}brand": [{ "type": "Property", "value": "Mercedes" }],
          "{{D}}address": [{ "type": "Property", "value": { "city": "Berlin", "street": "Unter den Linden" } }],
          "{{D}}name": [{ "type": "LanguageProperty", "languageMap": { "en": "Bus", "fr": "Autobus" } }],
          "{{D}}owner": [{ "type": "Relationship", "object": "urn:ngsi-ld:Person:1" }]
        }
        """)!.AsObject();
        _simple = QParser.Parse(SimpleQ, LdContext.Core);
        _complex = QParser.Parse(ComplexQ, LdContext.Core);
        _miss = QParser.Parse("brand==\"Audi\"|owner==urn:ngsi-ld:Person:2|missing>1", LdContext.Core);
        _type = TypeExpressionParser.Parse("(Vehicle;Asset)|Bus,Vehicle", LdContext.Core);
        _scope = ScopeQueryParser.Parse("/Paris/#|/Berlin/+");
        _types = _entity["type"]!.AsArray();
        _scopes = _entity["scope"]!.AsArray();

        // Materialise the lazily built property maps once, as a real query loop would after the first term.
        _complex.Matches(_entity);
    }

    [Benchmark]
    public QExpression ParseSimple() => QParser.Parse(SimpleQ, LdContext.Core);

    [Benchmark]
    public QExpression ParseComplex() => QParser.Parse(ComplexQ, LdContext.Core);

    [Benchmark(Baseline = true)]
    public bool EvaluateSimple() => _simple.Matches(_entity);

    [Benchmark]
    public bool EvaluateComplex() => _complex.Matches(_entity);

    [Benchmark]
    public bool EvaluateNoMatch() => _miss.Matches(_entity);

    [Benchmark]
    public bool EvaluateTypeExpression() => _type.Matches(_types);

    [Benchmark]
    public bool EvaluateScopeQ() => _scope.Matches(_scopes);
}
