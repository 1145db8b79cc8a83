namespace CityOS.NgsiLd.JsonLd;

/// <summary>
/// One term definition of an active context (JSON-LD 1.1 §4.1 "Create Term Definition"), reduced to what
/// NGSI-LD needs: the IRI mapping, the type coercion (<c>@id</c>, <c>@vocab</c>, <c>@json</c> or a datatype
/// IRI), the container and the prefix flag.
/// </summary>
/// <param name="Term">The term as written in the context.</param>
/// <param name="Iri">The IRI mapping: an absolute IRI, a blank node id or a keyword (aliases such as
/// <c>"type": "@type"</c>); null when the context maps the term to null, i.e. explicitly leaves it undefined.</param>
/// <param name="TypeMapping">The expanded <c>@type</c> of an expanded definition, or null.</param>
/// <param name="Container">The <c>@container</c> value(s), comma-separated and sorted, or null.</param>
/// <param name="IsPrefix">Whether the term may be used as the prefix of a compact IRI.</param>
/// <param name="IsProtected">Whether the definition is protected (<c>@protected</c>).</param>
/// <param name="IsCore">Whether it comes from the NGSI-LD core context (those always win over user terms).</param>
public sealed record LdTermDefinition(
    string Term,
    string? Iri,
    string? TypeMapping,
    string? Container,
    bool IsPrefix,
    bool IsProtected,
    bool IsCore)
{
    /// <summary>True when values of this term are vocabulary-relative IRIs (<c>"@type": "@vocab"</c>).</summary>
    public bool IsVocabCoerced => TypeMapping == "@vocab";

    /// <summary>True when values of this term are document-relative IRIs (<c>"@type": "@id"</c>).</summary>
    public bool IsIdCoerced => TypeMapping == "@id";

    /// <summary>Equality that ignores the protected flag and the origin, as the protected-term check requires (§4.1 step 27).</summary>
    internal bool SameMappingAs(LdTermDefinition other) =>
        Iri == other.Iri && TypeMapping == other.TypeMapping && Container == other.Container && IsPrefix == other.IsPrefix;
}
