using System.Text.Json;
using System.Text.Json.Nodes;
using CityOS.NgsiLd.Errors;

namespace CityOS.NgsiLd.JsonLd;

/// <summary>
/// The JSON-LD 1.1 Context Processing algorithm (W3C JSON-LD 1.1 API §4.1) restricted to what NGSI-LD
/// contexts use: term definitions (simple and expanded), compact IRIs and prefixes, <c>@vocab</c>, type
/// coercion, containers and protected terms. Features NGSI-LD forbids or never needs (scoped contexts,
/// <c>@import</c>, reverse properties, relative IRIs) are rejected with BadRequestData instead of being
/// half-implemented. One instance processes the local contexts of one request, in order.
/// </summary>
/// <remarks>
/// NGSI-LD deviates from plain JSON-LD in one place, deliberately: the core context wins over user
/// definitions wherever it sits in the array (GS CIM 009 §4.4), so user redefinitions of core terms are
/// skipped instead of being applied or raising "protected term redefinition"; and a user <c>@vocab</c> wins
/// over the core's whatever the order, since the core's only exists to give unmapped terms a home.
/// </remarks>
internal sealed class ContextProcessor
{
    private static readonly HashSet<string> s_termDefinitionKeys = new(StringComparer.Ordinal)
    {
        "@id", "@reverse", "@type", "@container", "@context", "@language", "@direction", "@nest", "@index", "@prefix", "@protected",
    };

    private static readonly HashSet<string> s_containers = new(StringComparer.Ordinal)
    {
        "@list", "@set", "@index", "@language", "@id", "@graph", "@type",
    };

    private readonly IReadOnlyDictionary<string, LdTermDefinition> _core;
    private readonly string? _coreVocab;
    private readonly bool _processingCore;
    private readonly Dictionary<string, LdTermDefinition> _terms = new(StringComparer.Ordinal);
    private string? _vocab;
    private bool _contextProtected;

    private ContextProcessor(IReadOnlyDictionary<string, LdTermDefinition> core, string? coreVocab, bool processingCore)
    {
        _core = core;
        _coreVocab = coreVocab;
        _processingCore = processingCore;
    }

    /// <summary>The term definitions created so far (user terms; or the core's own when processing the core).</summary>
    public IReadOnlyDictionary<string, LdTermDefinition> Terms => _terms;

    /// <summary>The vocabulary mapping a processed context set, or null when none did.</summary>
    public string? Vocab => _vocab;

    public static ContextProcessor ForCore() =>
        new(new Dictionary<string, LdTermDefinition>(StringComparer.Ordinal), null, processingCore: true);

    public static ContextProcessor ForUser(CoreDefinitions core) => new(core.Terms, core.Vocab, processingCore: false);

    private string? ActiveVocab => _vocab ?? _coreVocab;

    /// <summary>A <c>null</c> entry in a @context array: back to the initial context (§4.1 step 5.1).</summary>
    public void Reset()
    {
        foreach (var definition in _terms.Values)
        {
            if (definition.IsProtected)
            {
                throw Invalid($"invalid context nullification: the protected term '{definition.Term}' cannot be cleared");
            }
        }

        _terms.Clear();
        _vocab = null;
    }

    /// <summary>Processes one local context object (§4.1 step 5.5 onwards).</summary>
    public void Process(JsonObject local)
    {
        ArgumentNullException.ThrowIfNull(local);
        _contextProtected = false;

        if (local.TryGetPropertyValue("@version", out var version))
        {
            if (version is not JsonValue v || !v.TryGetValue<double>(out var number) || number != 1.1)
            {
                throw Invalid("invalid @version value: only 1.1 is allowed");
            }
        }

        if (local.ContainsKey("@import"))
        {
            throw Invalid("@import is not supported in an NGSI-LD @context");
        }

        if (local.TryGetPropertyValue("@base", out var baseValue) && baseValue is not null && !IsString(baseValue, out _))
        {
            throw Invalid("invalid base IRI: @base must be a string or null");
        }

        if (local.TryGetPropertyValue("@vocab", out var vocab))
        {
            _vocab = ProcessVocab(vocab);
        }

        if (local.TryGetPropertyValue("@language", out var language) && language is not null && !IsString(language, out _))
        {
            throw Invalid("invalid default language: @language must be a string or null");
        }

        if (local.TryGetPropertyValue("@direction", out var direction) && direction is not null
            && !(IsString(direction, out var d) && d is "ltr" or "rtl"))
        {
            throw Invalid("invalid base direction: @direction must be \"ltr\", \"rtl\" or null");
        }

        if (local.TryGetPropertyValue("@propagate", out var propagate) && !IsBoolean(propagate, out _))
        {
            throw Invalid("invalid @propagate value: it must be a boolean");
        }

        if (local.TryGetPropertyValue("@protected", out var protectedValue))
        {
            if (!IsBoolean(protectedValue, out _contextProtected))
            {
                throw Invalid("invalid @protected value: it must be a boolean");
            }
        }

        var defined = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (var (key, _) in local)
        {
            if (key is "@base" or "@direction" or "@import" or "@language" or "@propagate" or "@protected" or "@version" or "@vocab")
            {
                continue;
            }

            CreateTermDefinition(local, key, defined);
        }
    }

    private string? ProcessVocab(JsonNode? vocab)
    {
        if (vocab is null)
        {
            // JSON-LD would leave no vocabulary mapping at all; NGSI-LD always has the core's to fall back on.
            return null;
        }

        if (!IsString(vocab, out var value))
        {
            throw Invalid("invalid vocab mapping: @vocab must be a string or null");
        }

        if (value.Length == 0)
        {
            throw Invalid("invalid vocab mapping: a @vocab relative to the document base is not supported");
        }

        // §4.1 step 5.8.3 expands @vocab as a document-relative IRI, not as a term: compact IRIs work, terms do not.
        var iri = ExpandIri(value, vocab: false, local: null, defined: null);
        if (iri is null || !(JsonLdSyntax.IsAbsoluteIri(iri) || JsonLdSyntax.IsBlankNode(iri)))
        {
            throw Invalid($"invalid vocab mapping: '{value}' is not an absolute IRI");
        }

        return iri;
    }

    /// <summary>JSON-LD 1.1 Create Term Definition (§4.2), the subset described on the class.</summary>
    private void CreateTermDefinition(JsonObject local, string term, Dictionary<string, bool> defined)
    {
        if (defined.TryGetValue(term, out var done))
        {
            if (done)
            {
                return;
            }

            throw Invalid($"cyclic IRI mapping involving the term '{term}'");
        }

        if (term.Length == 0)
        {
            throw Invalid("invalid term definition: the empty string is not a term");
        }

        defined[term] = false;
        var value = local[term];

        if (term == "@type")
        {
            // JSON-LD 1.1 allows exactly {"@container": "@set"} and @protected on the @type keyword.
            if (value is not JsonObject typeObject || typeObject.Count == 0
                || typeObject.Any(p => p.Key is not ("@container" or "@protected"))
                || (typeObject.TryGetPropertyValue("@container", out var c) && !(IsString(c, out var cs) && cs == "@set")))
            {
                throw Invalid("keyword redefinition: @type may only take {\"@container\": \"@set\"}");
            }

            defined[term] = true;
            return;
        }

        if (JsonLdSyntax.IsKeyword(term))
        {
            throw Invalid($"keyword redefinition: '{term}' is a JSON-LD keyword");
        }

        if (JsonLdSyntax.HasKeywordForm(term))
        {
            // Reserved for future keywords: JSON-LD ignores such terms (with a warning).
            defined[term] = true;
            return;
        }

        if (!_processingCore && _core.ContainsKey(term))
        {
            // The core always wins (GS CIM 009 §4.4); the user's definition of a core term is skipped.
            defined[term] = true;
            return;
        }

        _terms.TryGetValue(term, out var previous);
        _terms.Remove(term);

        JsonObject? expanded = null;
        string? idValue;
        var idGiven = true;
        var simpleTerm = false;
        switch (value)
        {
            case null:
                idValue = null;
                break;
            case JsonValue when IsString(value, out var s):
                idValue = s;
                simpleTerm = true;
                break;
            case JsonObject o:
                expanded = o;
                idGiven = o.TryGetPropertyValue("@id", out var idNode);
                if (idNode is not null && !IsString(idNode, out _))
                {
                    throw Invalid($"invalid IRI mapping: @id of the term '{term}' must be a string or null");
                }

                idValue = idNode?.GetValue<string>();
                break;
            default:
                throw Invalid($"invalid term definition: '{term}' must map to a string, an object or null");
        }

        if (idGiven && idValue is not null && !JsonLdSyntax.IsKeyword(idValue) && JsonLdSyntax.HasKeywordForm(idValue))
        {
            // "@id": "@future" is reserved syntax: JSON-LD leaves the term undefined (§4.2 step 14.2.2).
            defined[term] = true;
            return;
        }

        var isProtected = _contextProtected;
        string? typeMapping = null;
        string? container = null;
        bool? prefixFlag = null;

        if (expanded is not null)
        {
            foreach (var (key, _) in expanded)
            {
                if (!s_termDefinitionKeys.Contains(key))
                {
                    throw Invalid($"invalid term definition: '{key}' is not allowed in the definition of '{term}'");
                }
            }

            if (expanded.ContainsKey("@context"))
            {
                if (!_processingCore)
                {
                    throw Invalid($"scoped contexts are not allowed in an NGSI-LD @context (term '{term}')");
                }

                // The core's own scoped contexts (e.g. ngsildproof) concern nested JSON-LD that NGSI-LD names never reach.
            }

            if (expanded.ContainsKey("@reverse"))
            {
                throw Invalid($"reverse properties are not supported in an NGSI-LD @context (term '{term}')");
            }

            if (expanded.TryGetPropertyValue("@protected", out var p) && !IsBoolean(p, out isProtected))
            {
                throw Invalid($"invalid @protected value in the definition of '{term}'");
            }

            if (expanded.TryGetPropertyValue("@type", out var typeNode))
            {
                typeMapping = ProcessTypeMapping(local, term, typeNode, defined);
            }

            if (expanded.TryGetPropertyValue("@container", out var containerNode))
            {
                container = ProcessContainer(term, containerNode);
            }

            if (expanded.TryGetPropertyValue("@language", out var lang) && lang is not null && !IsString(lang, out _))
            {
                throw Invalid($"invalid language mapping in the definition of '{term}'");
            }

            if (expanded.TryGetPropertyValue("@direction", out var dir) && dir is not null && !(IsString(dir, out var ds) && ds is "ltr" or "rtl"))
            {
                throw Invalid($"invalid base direction in the definition of '{term}'");
            }

            if (expanded.TryGetPropertyValue("@nest", out var nest) && !(IsString(nest, out var ns) && (ns == "@nest" || !JsonLdSyntax.IsKeyword(ns))))
            {
                throw Invalid($"invalid @nest value in the definition of '{term}'");
            }

            if (expanded.TryGetPropertyValue("@index", out var index)
                && !(IsString(index, out _) && container is not null && container.Contains("@index", StringComparison.Ordinal)))
            {
                throw Invalid($"invalid term definition: @index of '{term}' needs a string and an @index container");
            }

            if (expanded.TryGetPropertyValue("@prefix", out var prefixNode))
            {
                if (term.Contains(':', StringComparison.Ordinal) || term.Contains('/', StringComparison.Ordinal))
                {
                    throw Invalid($"invalid term definition: '{term}' contains ':' or '/' and cannot take @prefix");
                }

                if (!IsBoolean(prefixNode, out var flag))
                {
                    throw Invalid($"invalid @prefix value in the definition of '{term}'");
                }

                prefixFlag = flag;
            }
        }

        var iri = ProcessIriMapping(local, term, idGiven ? idValue : term, idGiven && idValue is null, defined);
        var isPrefix = prefixFlag ?? (simpleTerm
            && !term.Contains(':', StringComparison.Ordinal) && !term.Contains('/', StringComparison.Ordinal)
            && iri is not null && (JsonLdSyntax.EndsWithGenDelim(iri) || JsonLdSyntax.IsBlankNode(iri)));
        if (isPrefix && iri is not null && JsonLdSyntax.IsKeyword(iri))
        {
            throw Invalid($"invalid term definition: the keyword alias '{term}' cannot be a prefix");
        }

        var definition = new LdTermDefinition(term, iri, typeMapping, container, isPrefix, isProtected, _processingCore);
        if (previous is { IsProtected: true })
        {
            if (!previous.SameMappingAs(definition))
            {
                throw Invalid($"protected term redefinition: '{term}' is protected by an earlier context");
            }

            definition = previous;
        }

        _terms[term] = definition;
        defined[term] = true;
    }

    /// <summary>§4.2 steps 14–20: the IRI mapping from @id, or from the term itself when @id is absent.</summary>
    private string? ProcessIriMapping(JsonObject local, string term, string? id, bool explicitNull, Dictionary<string, bool> defined)
    {
        if (explicitNull)
        {
            return null;
        }

        if (id is not null && id != term)
        {
            var iri = ExpandIri(id, vocab: true, local, defined);
            if (iri is null || !(JsonLdSyntax.IsKeyword(iri) || JsonLdSyntax.IsAbsoluteIri(iri) || JsonLdSyntax.IsBlankNode(iri)))
            {
                throw Invalid($"invalid IRI mapping: '{id}' (for the term '{term}') does not expand to an absolute IRI");
            }

            if (iri == "@context")
            {
                throw Invalid($"invalid keyword alias: '{term}' cannot alias @context");
            }

            var colon = term.IndexOf(':', StringComparison.Ordinal);
            if ((colon > 0 && colon < term.Length - 1) || term.Contains('/', StringComparison.Ordinal))
            {
                // A term that looks like a compact IRI or an IRI must mean what it looks like (§4.2 step 14.2.4).
                defined[term] = true;
                var itself = ExpandIri(term, vocab: true, local, defined);
                if (itself != iri)
                {
                    throw Invalid($"invalid IRI mapping: the term '{term}' looks like an IRI but maps to '{iri}'");
                }
            }

            return iri;
        }

        var termColon = term.IndexOf(':', 1);
        if (termColon > 0)
        {
            var prefix = term[..termColon];
            if (local.ContainsKey(prefix))
            {
                CreateTermDefinition(local, prefix, defined);
            }

            return TryGetDefinition(prefix) is { Iri: { } prefixIri } ? prefixIri + term[(termColon + 1)..] : term;
        }

        if (term.Contains('/', StringComparison.Ordinal))
        {
            throw Invalid($"invalid IRI mapping: the relative IRI term '{term}' is not supported");
        }

        return ActiveVocab is { } vocabIri
            ? vocabIri + term
            : throw Invalid($"invalid IRI mapping: the term '{term}' has no @id and there is no @vocab");
    }

    private string ProcessTypeMapping(JsonObject local, string term, JsonNode? typeNode, Dictionary<string, bool> defined)
    {
        if (!IsString(typeNode, out var type))
        {
            throw Invalid($"invalid type mapping: @type of '{term}' must be a string");
        }

        var expandedType = ExpandIri(type, vocab: true, local, defined);
        if (expandedType is "@id" or "@json" or "@none" or "@vocab")
        {
            return expandedType;
        }

        if (expandedType is null || JsonLdSyntax.IsKeyword(expandedType) || !JsonLdSyntax.IsAbsoluteIri(expandedType))
        {
            throw Invalid($"invalid type mapping: '{type}' (for the term '{term}') is not an IRI, @id, @vocab, @json or @none");
        }

        return expandedType;
    }

    private static string ProcessContainer(string term, JsonNode? containerNode)
    {
        List<string> values = [];
        if (IsString(containerNode, out var single))
        {
            values.Add(single);
        }
        else if (containerNode is JsonArray array)
        {
            foreach (var item in array)
            {
                if (!IsString(item, out var s))
                {
                    throw Invalid($"invalid container mapping for '{term}'");
                }

                values.Add(s);
            }
        }
        else
        {
            throw Invalid($"invalid container mapping for '{term}'");
        }

        if (values.Count == 0 || values.Any(v => !s_containers.Contains(v)))
        {
            throw Invalid($"invalid container mapping for '{term}'");
        }

        values.Sort(StringComparer.Ordinal);
        return string.Join(',', values);
    }

    /// <summary>JSON-LD 1.1 IRI Expansion (§5.2) against the active context being built.</summary>
    private string? ExpandIri(string value, bool vocab, JsonObject? local, Dictionary<string, bool>? defined)
    {
        if (JsonLdSyntax.IsKeyword(value))
        {
            return value;
        }

        if (JsonLdSyntax.HasKeywordForm(value))
        {
            return null;
        }

        if (local is not null && defined is not null && local.ContainsKey(value) && !(defined.TryGetValue(value, out var d) && d))
        {
            CreateTermDefinition(local, value, defined);
        }

        if (vocab && TryGetDefinition(value) is { } definition)
        {
            return definition.Iri;
        }

        var colon = value.IndexOf(':', 1);
        if (colon > 0)
        {
            var prefix = value[..colon];
            var suffix = value.AsSpan(colon + 1);
            if (prefix == "_" || suffix.StartsWith("//"))
            {
                return value;
            }

            if (local is not null && defined is not null && local.ContainsKey(prefix) && !(defined.TryGetValue(prefix, out var pd) && pd))
            {
                CreateTermDefinition(local, prefix, defined);
            }

            if (TryGetDefinition(prefix) is { Iri: { } prefixIri, IsPrefix: true })
            {
                return string.Concat(prefixIri, suffix);
            }

            if (JsonLdSyntax.IsAbsoluteIri(value))
            {
                return value;
            }
        }

        if (vocab && ActiveVocab is { } vocabIri)
        {
            return vocabIri + value;
        }

        // Document-relative: NGSI-LD has no document base, callers reject what is not absolute.
        return value;
    }

    private LdTermDefinition? TryGetDefinition(string term) =>
        _core.TryGetValue(term, out var core) ? core : _terms.GetValueOrDefault(term);

    private static bool IsString(JsonNode? node, out string value)
    {
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.String)
        {
            value = v.GetValue<string>();
            return true;
        }

        value = string.Empty;
        return false;
    }

    private static bool IsBoolean(JsonNode? node, out bool value)
    {
        if (node is JsonValue v && v.GetValueKind() is JsonValueKind.True or JsonValueKind.False)
        {
            value = v.GetValue<bool>();
            return true;
        }

        value = false;
        return false;
    }

    private static NgsiLdException Invalid(string detail) => new(ErrorType.BadRequestData, "Invalid @context: " + detail);
}
