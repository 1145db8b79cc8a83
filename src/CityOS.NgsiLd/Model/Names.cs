namespace CityOS.NgsiLd.Model;

/// <summary>
/// Member names of the internal (expanded) entity form. See docs/internal-model.md.
/// Core NGSI-LD members keep their short, protected names; every attribute key is a full IRI
/// (so it always contains ':'), which is how attributes are told apart from core members.
/// </summary>
public static class Names
{
    public const string Id = "id";
    public const string Type = "type";
    public const string Scope = "scope";
    public const string CreatedAt = "createdAt";
    public const string ModifiedAt = "modifiedAt";
    public const string DeletedAt = "deletedAt";
    public const string ExpiresAt = "expiresAt";
    public const string ObservedAt = "observedAt";
    public const string UnitCode = "unitCode";
    public const string DatasetId = "datasetId";
    public const string Value = "value";
    public const string Object = "object";
    public const string ObjectType = "objectType";
    public const string LanguageMap = "languageMap";
    public const string Vocab = "vocab";
    public const string Json = "json";
    public const string ValueList = "valueList";
    public const string ObjectList = "objectList";
    public const string ValueType = "valueType";
    public const string Lang = "lang";

    public const string Property = "Property";
    public const string Relationship = "Relationship";
    public const string GeoProperty = "GeoProperty";
    public const string LanguageProperty = "LanguageProperty";
    public const string VocabProperty = "VocabProperty";
    public const string JsonProperty = "JsonProperty";
    public const string ListProperty = "ListProperty";
    public const string ListRelationship = "ListRelationship";

    /// <summary>The NGSI-LD Null (§4.5.1 / §5.5.12), meaning "delete" in update fragments.</summary>
    public const string NgsiLdNull = "urn:ngsi-ld:null";

    /// <summary>The expanded IRI of the default geo-property.</summary>
    public const string LocationIri = "https://uri.etsi.org/ngsi-ld/location";
    public const string ObservationSpaceIri = "https://uri.etsi.org/ngsi-ld/observationSpace";
    public const string OperationSpaceIri = "https://uri.etsi.org/ngsi-ld/operationSpace";

    /// <summary>True when a member of an entity or attribute instance is an attribute (its key is an IRI).</summary>
    public static bool IsAttributeKey(string key) => key.Contains(':', StringComparison.Ordinal);

    /// <summary>The content member that holds an attribute's value, by attribute type.</summary>
    public static string? ContentMember(string attributeType) => attributeType switch
    {
        Property or GeoProperty => Value,
        Relationship => Object,
        LanguageProperty => LanguageMap,
        VocabProperty => Vocab,
        JsonProperty => Json,
        ListProperty => ValueList,
        ListRelationship => ObjectList,
        _ => null,
    };

    public static bool IsAttributeType(string type) => ContentMember(type) is not null;
}
