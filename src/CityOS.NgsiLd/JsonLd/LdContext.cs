using System.Text.Json.Nodes;

namespace CityOS.NgsiLd.JsonLd;

/// <summary>
/// A resolved JSON-LD @context as NGSI-LD uses it: a term map for expanding short names (entity types,
/// attribute names, vocab values) to IRIs on the way in and compacting IRIs on the way out.
/// The core context always wins over user definitions (§4.4).
/// </summary>
public sealed class LdContext
{
    // STUB: replaced by the JSON-LD work (issue #2). Core-only behaviour: @vocab default-context.
    private const string DefaultVocab = "https://uri.etsi.org/ngsi-ld/default-context/";

    private readonly string _vocab = DefaultVocab;

    private LdContext()
    {
    }

    /// <summary>The NGSI-LD core context alone.</summary>
    public static LdContext Core { get; } = new();

    /// <summary>The URLs this context was built from, in order (the core context URL last if implied).</summary>
    public IReadOnlyList<string> Urls { get; } = ["https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"];

    /// <summary>The @context value to put in an application/ld+json response body.</summary>
    public JsonNode ContextNode => JsonValue.Create(Urls[0]);

    /// <summary>Expands a type or attribute name (term, compact IRI or IRI) to an IRI.</summary>
    public string ExpandTerm(string term)
    {
        ArgumentNullException.ThrowIfNull(term);
        if (term == "location" || term == "observationSpace" || term == "operationSpace")
        {
            return "https://uri.etsi.org/ngsi-ld/" + term;
        }

        return term.Contains(':', StringComparison.Ordinal) ? term : _vocab + term;
    }

    /// <summary>Compacts an IRI to the shortest term of this context, or returns it unchanged.</summary>
    public string CompactIri(string iri)
    {
        ArgumentNullException.ThrowIfNull(iri);
        if (iri.StartsWith("https://uri.etsi.org/ngsi-ld/", StringComparison.Ordinal) && !iri.StartsWith(DefaultVocab, StringComparison.Ordinal))
        {
            return iri["https://uri.etsi.org/ngsi-ld/".Length..];
        }

        return iri.StartsWith(_vocab, StringComparison.Ordinal) ? iri[_vocab.Length..] : iri;
    }

    /// <summary>Expands a VocabProperty value (vocab-relative, §4.5.20).</summary>
    public string ExpandVocabValue(string value) => ExpandTerm(value);

    /// <summary>Compacts a VocabProperty value.</summary>
    public string CompactVocabValue(string iri) => CompactIri(iri);
}
