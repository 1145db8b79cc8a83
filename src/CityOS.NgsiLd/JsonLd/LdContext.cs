using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Text.Json;
using System.Text.Json.Nodes;
using CityOS.NgsiLd.Errors;

namespace CityOS.NgsiLd.JsonLd;

/// <summary>
/// A resolved JSON-LD @context as NGSI-LD uses it: a term map for expanding short names (entity types,
/// attribute names, vocab values) to IRIs on the way in and compacting IRIs on the way out.
/// The core context always wins over user definitions (§4.4).
/// </summary>
/// <remarks>
/// Immutable and safe to share between requests: every lookup is a dictionary probe, the reverse map is
/// built once per context, and compact-IRI answers (the only path that scans) are memoised.
/// Instances come from <see cref="IContextResolver"/> (remote URLs) or <see cref="Create(JsonNode?)"/>.
/// </remarks>
public sealed class LdContext
{
    // Bounds the memo of compact-IRI answers, whose keys come from stored data and so are not bounded by the context.
    private const int MaxMemoisedCompactions = 10_000;

    private readonly FrozenDictionary<string, LdTermDefinition> _terms;
    private readonly FrozenDictionary<string, LdTermDefinition>.AlternateLookup<ReadOnlySpan<char>> _termsBySpan;
    private readonly FrozenDictionary<string, string> _inverse;
    private readonly (string Term, string Iri)[] _prefixes;
    private readonly ConcurrentDictionary<string, string> _compacted = new(StringComparer.Ordinal);
    private readonly string _vocab;
    private readonly JsonNode? _contextNode;

    private LdContext(CoreDefinitions core, IReadOnlyDictionary<string, LdTermDefinition> userTerms, string? userVocab, IReadOnlyList<string> urls, JsonNode? contextNode)
    {
        var all = new Dictionary<string, LdTermDefinition>(core.Terms, StringComparer.Ordinal);
        foreach (var (term, definition) in userTerms)
        {
            all.TryAdd(term, definition);
        }

        _terms = all.ToFrozenDictionary(StringComparer.Ordinal);
        _termsBySpan = _terms.GetAlternateLookup<ReadOnlySpan<char>>();
        _vocab = userVocab ?? core.Vocab;
        _inverse = BuildInverse(all.Values);
        _prefixes = [.. all.Values
            .Where(d => d.IsPrefix && d.Iri is not null && !JsonLdSyntax.IsKeyword(d.Iri))
            .Select(d => (d.Term, d.Iri!))
            .OrderBy(p => p.Term, StringComparer.Ordinal)];
        Urls = urls;
        _contextNode = contextNode;
        CoreVersion = core.Version;
    }

    /// <summary>The NGSI-LD core context alone.</summary>
    public static LdContext Core { get; } = new(
        CoreContexts.Get(JsonLd.CoreVersion.V1_9),
        new Dictionary<string, LdTermDefinition>(),
        null,
        [CoreContexts.DefaultUrl],
        null);

    /// <summary>The URLs this context was built from, in order (the core context URL last if implied).</summary>
    public IReadOnlyList<string> Urls { get; }

    /// <summary>The @context value to put in an application/ld+json response body (a fresh node on each call).</summary>
    public JsonNode ContextNode => _contextNode?.DeepClone() ?? JsonValue.Create(Urls[0]);

    /// <summary>The vocabulary mapping: the user's @vocab, else the core's default-context IRI.</summary>
    public string Vocab => _vocab;

    internal CoreVersion CoreVersion { get; }

    /// <summary>
    /// Builds a context from a @context value that needs no download: inline objects, null, and core
    /// context URLs (answered offline). Other URLs need <see cref="IContextResolver"/>.
    /// </summary>
    /// <exception cref="NgsiLdException">BadRequestData when the value is invalid or names a non-core URL.</exception>
    public static LdContext Create(JsonNode? context)
    {
        if (context is null)
        {
            return Core;
        }

        var items = new List<JsonObject?>();
        CoreVersion? core = null;
        foreach (var entry in context is JsonArray array ? array : (IEnumerable<JsonNode?>)[context])
        {
            switch (entry)
            {
                case JsonObject o:
                    items.Add(o);
                    break;
                case null:
                    items.Add(null);
                    break;
                case JsonValue v when v.GetValueKind() == JsonValueKind.String && CoreContexts.TryGetVersion(v.GetValue<string>(), out var version):
                    core = core is { } c && c > version ? c : version;
                    break;
                case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                    throw NgsiLdException.BadRequest($"The @context URL '{v.GetValue<string>()}' must be resolved by the context resolver.");
                default:
                    throw NgsiLdException.BadRequest("Invalid @context: an entry must be a URL string, an object or null.");
            }
        }

        return Build(core ?? JsonLd.CoreVersion.V1_9, items, TopLevelUrls(context), context);
    }

    /// <summary>Runs context processing over the flattened local contexts of one request.</summary>
    internal static LdContext Build(CoreVersion coreVersion, IReadOnlyList<JsonObject?> items, IReadOnlyList<string> urls, JsonNode? contextNode)
    {
        var core = CoreContexts.Get(coreVersion);
        var processor = ContextProcessor.ForUser(core);
        foreach (var item in items)
        {
            if (item is null)
            {
                processor.Reset();
            }
            else
            {
                processor.Process(item);
            }
        }

        return new LdContext(core, processor.Terms, processor.Vocab, urls, contextNode?.DeepClone());
    }

    /// <summary>
    /// The URLs named at the top level of a @context value, with the core context URL appended when none of
    /// them is one (the core is always part of the context, §4.4).
    /// </summary>
    internal static IReadOnlyList<string> TopLevelUrls(JsonNode? context)
    {
        var urls = new List<string>();
        foreach (var entry in context is JsonArray array ? array : (IEnumerable<JsonNode?>)[context])
        {
            if (entry is JsonValue v && v.GetValueKind() == JsonValueKind.String)
            {
                urls.Add(v.GetValue<string>());
            }
        }

        if (!urls.Exists(u => CoreContexts.TryGetVersion(u, out _)))
        {
            urls.Add(CoreContexts.DefaultUrl);
        }

        return urls;
    }

    /// <summary>The definition of a term (e.g. to learn its <c>@type</c> coercion), or null when the term is not defined.</summary>
    public LdTermDefinition? GetTermDefinition(string term)
    {
        ArgumentNullException.ThrowIfNull(term);
        return _terms.GetValueOrDefault(term);
    }

    /// <summary>
    /// Expands a type or attribute name (term, compact IRI or IRI) to an IRI, as JSON-LD IRI expansion with
    /// vocab=true does: term definitions, then compact IRIs whose prefix is a prefix term, then absolute IRIs
    /// unchanged, then @vocab. A keyword or keyword alias (<c>"type"</c>) yields the keyword.
    /// </summary>
    /// <exception cref="NgsiLdException">BadRequestData when the context maps the term to null.</exception>
    public string ExpandTerm(string term)
    {
        ArgumentNullException.ThrowIfNull(term);
        if (_terms.TryGetValue(term, out var definition))
        {
            return definition.Iri ?? throw NgsiLdException.BadRequest($"The term '{term}' is explicitly undefined (mapped to null) by the @context.");
        }

        if (term.Length > 0 && term[0] == '@')
        {
            // Keywords stay keywords; JSON-LD drops other "@word" terms, NGSI-LD name validation rejects them later.
            return term;
        }

        var colon = term.IndexOf(':', StringComparison.Ordinal);
        if (colon > 0)
        {
            var span = term.AsSpan();
            var suffix = span[(colon + 1)..];
            if ((colon == 1 && span[0] == '_') || suffix.StartsWith("//"))
            {
                return term;
            }

            if (_termsBySpan.TryGetValue(span[..colon], out var prefix) && prefix.IsPrefix && prefix.Iri is { } prefixIri)
            {
                return string.Concat(prefixIri, suffix);
            }

            if (JsonLdSyntax.IsAbsoluteIri(span))
            {
                return term;
            }
        }

        return _vocab + term;
    }

    /// <summary>
    /// Compacts an IRI as JSON-LD IRI compaction with vocab=true does: a term mapping to exactly this IRI
    /// (a user term before a core one, then the shortest, then the first in ordinal order), else the IRI
    /// relative to @vocab when that is not itself a term, else the shortest compact IRI with a prefix term,
    /// else the IRI unchanged. The answer always expands back to <paramref name="iri"/>.
    /// </summary>
    public string CompactIri(string iri)
    {
        ArgumentNullException.ThrowIfNull(iri);
        if (_inverse.TryGetValue(iri, out var term))
        {
            return term;
        }

        if (iri.Length > _vocab.Length && iri.StartsWith(_vocab, StringComparison.Ordinal))
        {
            var suffix = iri.AsSpan(_vocab.Length);
            // A suffix holding ':' or starting with '@' would re-expand as a compact IRI or keyword, not via @vocab.
            if (suffix[0] != '@' && !suffix.Contains(':') && !_termsBySpan.ContainsKey(suffix))
            {
                return suffix.ToString();
            }
        }

        return _prefixes.Length == 0 ? iri : CompactWithPrefix(iri);
    }

    /// <summary>Expands a VocabProperty value (vocab-relative, §4.5.20): term definitions, compact IRIs, then @vocab.</summary>
    /// <exception cref="NgsiLdException">BadRequestData when the context maps the value to null.</exception>
    public string ExpandVocabValue(string value)
    {
        var iri = ExpandTerm(value);

        // "type" or "id" as a vocabulary value names a thing, not the JSON-LD keyword its term aliases.
        return iri.Length > 0 && iri[0] == '@' && JsonLdSyntax.IsKeyword(iri) ? _vocab + value : iri;
    }

    /// <summary>Compacts a VocabProperty value (vocab-relative, §4.5.20); the inverse of <see cref="ExpandVocabValue"/>.</summary>
    public string CompactVocabValue(string iri) => CompactIri(iri);

    private string CompactWithPrefix(string iri)
    {
        if (_compacted.TryGetValue(iri, out var known))
        {
            return known;
        }

        string? best = null;
        foreach (var (term, prefixIri) in _prefixes)
        {
            if (iri.Length <= prefixIri.Length || !iri.StartsWith(prefixIri, StringComparison.Ordinal))
            {
                continue;
            }

            var suffix = iri.AsSpan(prefixIri.Length);
            if (suffix.StartsWith("//"))
            {
                continue;
            }

            var candidate = string.Concat(term, ":", suffix);
            if (_terms.ContainsKey(candidate))
            {
                // A term spelled like the compact IRI would win on expansion and mean something else.
                continue;
            }

            if (best is null || candidate.Length < best.Length || (candidate.Length == best.Length && string.CompareOrdinal(candidate, best) < 0))
            {
                best = candidate;
            }
        }

        var answer = best ?? iri;
        if (_compacted.Count < MaxMemoisedCompactions)
        {
            _compacted.TryAdd(iri, answer);
        }

        return answer;
    }

    private static FrozenDictionary<string, string> BuildInverse(IEnumerable<LdTermDefinition> definitions)
    {
        var inverse = new Dictionary<string, LdTermDefinition>(StringComparer.Ordinal);
        foreach (var definition in definitions)
        {
            if (definition.Iri is null)
            {
                continue;
            }

            if (!inverse.TryGetValue(definition.Iri, out var current) || Preferred(definition, current))
            {
                inverse[definition.Iri] = definition;
            }
        }

        return inverse.ToFrozenDictionary(p => p.Key, p => p.Value.Term, StringComparer.Ordinal);

        // The user's own name for an IRI reads best in their responses; ties go to the shortest, then ordinal
        // order, as JSON-LD's inverse context orders terms, so the answer never depends on dictionary order.
        static bool Preferred(LdTermDefinition candidate, LdTermDefinition current)
        {
            if (candidate.IsCore != current.IsCore)
            {
                return !candidate.IsCore;
            }

            if (candidate.Term.Length != current.Term.Length)
            {
                return candidate.Term.Length < current.Term.Length;
            }

            return string.CompareOrdinal(candidate.Term, current.Term) < 0;
        }
    }
}
