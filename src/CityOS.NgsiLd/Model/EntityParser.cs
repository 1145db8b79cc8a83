using System.Text.Json;
using System.Text.Json.Nodes;
using CityOS.NgsiLd.Errors;
using CityOS.NgsiLd.JsonLd;
using CityOS.NgsiLd.Query;

namespace CityOS.NgsiLd.Model;

/// <summary>What kind of payload is being parsed; decides which members are required or allowed.</summary>
public enum PayloadKind
{
    /// <summary>A whole entity (create, replace, batch create/upsert): id and type required, NGSI-LD Null forbidden.</summary>
    Entity,

    /// <summary>An update fragment (append, update attrs, merge, batch update/merge): id/type optional, NGSI-LD Null allowed.</summary>
    Fragment,
}

/// <summary>
/// Turns request bodies (normalized, concise or keyValues input) into the internal expanded form, with
/// full validation: every error is an <see cref="NgsiLdException"/> of type BadRequestData.
/// </summary>
public static class EntityParser
{
    // Bounds keep hostile payloads from recursing without end; real data nests far less.
    private const int MaxAttributeDepth = 16;
    private const int MaxValueDepth = 128;

    private static readonly HashSet<string> GeometryTypes = new(StringComparer.Ordinal)
    {
        "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon",
    };

    /// <summary>
    /// Parses an entity or fragment. The body's own "@context" member, if any, has already been used to
    /// build <paramref name="context"/> and is ignored here. The result has no system timestamps.
    /// With <paramref name="keyValues"/>, attribute values are simplified (options=keyValues on input).
    /// </summary>
    public static JsonObject Parse(JsonObject body, LdContext context, PayloadKind kind, bool keyValues = false)
    {
        ArgumentNullException.ThrowIfNull(body);
        ArgumentNullException.ThrowIfNull(context);
        var result = new JsonObject();

        // Core members go first so the stored form always starts with id, type, scope.
        if (body.TryGetPropertyValue(Names.Id, out var idNode))
        {
            if (!TryGetString(idNode, out var id))
            {
                throw NgsiLdException.BadRequest("Entity id must be a string holding a URI.");
            }

            ValidateEntityId(id);
            result[Names.Id] = id;
        }
        else if (kind == PayloadKind.Entity)
        {
            throw NgsiLdException.BadRequest("Entity id is missing.");
        }

        if (body.TryGetPropertyValue(Names.Type, out var typeNode))
        {
            result[Names.Type] = ParseTypes(typeNode, context);
        }
        else if (kind == PayloadKind.Entity)
        {
            throw NgsiLdException.BadRequest("Entity type is missing.");
        }

        if (body.TryGetPropertyValue(Names.Scope, out var scopeNode))
        {
            result[Names.Scope] = ParseScopes(scopeNode, kind);
        }

        if (body.TryGetPropertyValue(Names.ExpiresAt, out var expiresNode))
        {
            result[Names.ExpiresAt] = ParseDateTime("expiresAt", Names.ExpiresAt, expiresNode);
        }

        foreach (var (key, node) in body)
        {
            switch (key)
            {
                case Names.Id or Names.Type or Names.Scope or Names.ExpiresAt:
                case "@context" or Names.CreatedAt or Names.ModifiedAt or Names.DeletedAt:
                    // System timestamps are the broker's; a client's values are not trusted.
                    continue;
            }

            var iri = ExpandName(key, key, context);
            if (result.ContainsKey(iri))
            {
                throw NgsiLdException.BadRequest($"Attribute '{key}' is given twice (as '{iri}').");
            }

            var instances = keyValues ? ParseSimplified(key, node, kind) : ParseValue(key, node, context, kind, 0);
            if (iri is Names.LocationIri or Names.ObservationSpaceIri or Names.OperationSpaceIri)
            {
                RequireGeoProperty(key, instances);
            }

            result[iri] = instances;
        }

        return result;
    }

    /// <summary>
    /// Parses the body of PUT/PATCH /entities/{id}/attrs/{attrId}: one attribute (object, or array of
    /// instances), returned as a JsonArray of instances in internal form.
    /// </summary>
    public static JsonArray ParseAttribute(string attributeIri, JsonNode body, LdContext context, PayloadKind kind)
    {
        ArgumentNullException.ThrowIfNull(attributeIri);
        ArgumentNullException.ThrowIfNull(context);
        return ParseValue(context.CompactIri(attributeIri), body, context, kind, 0);
    }

    /// <summary>The longest entity id accepted, in characters.</summary>
    public const int MaxEntityIdLength = 2048;

    /// <summary>Validates an entity id (an absolute URI, §4.5.1, at most <see cref="MaxEntityIdLength"/> characters). Throws BadRequestData otherwise.</summary>
    public static void ValidateEntityId(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        if (id.Length > MaxEntityIdLength)
        {
            // Ids travel back in Location headers and URLs, where proxies and clients cap header sizes.
            throw NgsiLdException.BadRequest($"Entity id is {id.Length} characters long; the limit is {MaxEntityIdLength}.");
        }

        if (!NameRules.IsUri(id))
        {
            throw NgsiLdException.BadRequest($"Entity id '{id}' is not a URI.");
        }

        if (id == Names.NgsiLdNull)
        {
            throw NgsiLdException.BadRequest("The NGSI-LD Null cannot be an entity id.");
        }
    }

    /// <summary>True when <paramref name="node"/> is a GeoJSON geometry object (a geometry type and coordinates).</summary>
    public static bool IsGeometry(JsonNode? node) =>
        node is JsonObject o && TryGetString(o[Names.Type], out var t) && GeometryTypes.Contains(t) && o.ContainsKey("coordinates");

    // location, observationSpace and operationSpace are GeoProperties by definition (§4.7); geo-queries rely on it.
    private static void RequireGeoProperty(string path, JsonArray instances)
    {
        foreach (var item in instances)
        {
            if (item is JsonObject instance && Instances.TypeOf(instance) != Names.GeoProperty && !Instances.IsNgsiLdNull(instance))
            {
                throw NgsiLdException.BadRequest($"Attribute '{path}' must be a GeoProperty.");
            }
        }
    }

    private static JsonArray ParseTypes(JsonNode? node, LdContext context)
    {
        var result = new JsonArray();
        if (TryGetString(node, out var single))
        {
            result.Add(ExpandType(single, context));
            return result;
        }

        if (node is not JsonArray { Count: > 0 } array)
        {
            throw NgsiLdException.BadRequest("Entity type must be a name or a non-empty array of names.");
        }

        foreach (var item in array)
        {
            if (!TryGetString(item, out var name))
            {
                throw NgsiLdException.BadRequest("Entity type must be a name or a non-empty array of names.");
            }

            var iri = ExpandType(name, context);
            if (!Contains(result, iri))
            {
                result.Add(iri);
            }
        }

        return result;
    }

    private static string ExpandType(string name, LdContext context)
    {
        if (!NameRules.IsValidName(name))
        {
            throw NgsiLdException.BadRequest($"Entity type '{name}' is not a valid name.");
        }

        return context.ExpandTerm(name);
    }

    private static JsonArray ParseScopes(JsonNode? node, PayloadKind kind)
    {
        var result = new JsonArray();
        if (TryGetString(node, out var single))
        {
            if (single == Names.NgsiLdNull && kind == PayloadKind.Fragment)
            {
                result.Add(single);
                return result;
            }

            result.Add(ValidateScope(single));
            return result;
        }

        if (node is not JsonArray array)
        {
            throw NgsiLdException.BadRequest("scope must be a string or an array of strings.");
        }

        foreach (var item in array)
        {
            if (!TryGetString(item, out var scope))
            {
                throw NgsiLdException.BadRequest("scope must be a string or an array of strings.");
            }

            ValidateScope(scope);
            if (!Contains(result, scope))
            {
                result.Add(scope);
            }
        }

        return result;
    }

    private static string ValidateScope(string scope)
    {
        // A scope is a path of one or more levels: "/Madrid/Gardens".
        var ok = scope.Length > 1 && scope[0] == '/' && scope[^1] != '/';
        for (var i = 1; ok && i < scope.Length; i++)
        {
            var ch = scope[i];
            ok = char.IsLetterOrDigit(ch) || ch is '_' or '-' || (ch == '/' && scope[i - 1] != '/');
        }

        return ok ? scope : throw NgsiLdException.BadRequest($"Scope '{scope}' is not of the form /level/level.");
    }

    private static string ExpandName(string path, string name, LdContext context)
    {
        if (!NameRules.IsValidName(name))
        {
            throw NgsiLdException.BadRequest($"'{path}' is not a valid attribute name.");
        }

        if (NameRules.IsReserved(name))
        {
            throw NgsiLdException.BadRequest($"'{path}' is a reserved NGSI-LD core name and cannot name an attribute.");
        }

        var iri = context.ExpandTerm(name);
        if (!Names.IsAttributeKey(iri) || NameRules.IsReserved(iri))
        {
            throw NgsiLdException.BadRequest($"'{path}' does not expand to a valid attribute IRI.");
        }

        return iri;
    }

    private static JsonArray ParseSimplified(string path, JsonNode? node, PayloadKind kind)
    {
        if (IsJsonNull(node))
        {
            throw NgsiLdException.BadRequest($"Attribute '{path}': null is not a valid value.");
        }

        JsonObject instance;
        if (IsGeometry(node))
        {
            ValidateGeometry(path, node!);
            instance = new JsonObject { [Names.Type] = Names.GeoProperty, [Names.Value] = node!.DeepClone() };
        }
        else
        {
            CheckNullString(path, node, kind);
            CheckValue(path, node, kind, 0);
            instance = new JsonObject { [Names.Type] = Names.Property, [Names.Value] = node!.DeepClone() };
        }

        return [instance];
    }

    private static JsonArray ParseValue(string path, JsonNode? node, LdContext context, PayloadKind kind, int depth)
    {
        switch (node)
        {
            case JsonArray array when array.Count > 0 && AllObjects(array):
                var instances = new JsonArray();
                foreach (var item in array)
                {
                    instances.Add(ParseInstance(path, (JsonObject)item!, context, kind, depth));
                }

                CheckDatasets(path, instances);
                return instances;
            case JsonObject obj:
                return [ParseInstance(path, obj, context, kind, depth)];
            case null:
                throw NgsiLdException.BadRequest($"Attribute '{path}': null is not a valid value.");
            default:
                // Concise rule 1: a scalar or an array of scalars is a Property value.
                if (node is JsonArray mixed && !NoObjects(mixed))
                {
                    throw NgsiLdException.BadRequest($"Attribute '{path}': an array must hold either attribute instances or plain values, not both.");
                }

                if (IsJsonNull(node))
                {
                    throw NgsiLdException.BadRequest($"Attribute '{path}': null is not a valid value.");
                }

                CheckNullString(path, node, kind);
                CheckValue(path, node, kind, 0);
                return [new JsonObject { [Names.Type] = Names.Property, [Names.Value] = node.DeepClone() }];
        }
    }

    private static JsonObject ParseInstance(string path, JsonObject obj, LdContext context, PayloadKind kind, int depth)
    {
        var hasType = obj.TryGetPropertyValue(Names.Type, out var typeNode);
        if (hasType && TryGetString(typeNode, out var given) && Names.IsAttributeType(given))
        {
            return ParseNormalized(path, obj, given, context, kind, depth);
        }

        if (IsGeometry(obj))
        {
            ValidateGeometry(path, obj);
            return new JsonObject { [Names.Type] = Names.GeoProperty, [Names.Value] = obj.DeepClone() };
        }

        string? inferred =
            obj.ContainsKey(Names.Object) ? Names.Relationship
            : obj.ContainsKey(Names.ObjectList) ? Names.ListRelationship
            : obj.ContainsKey(Names.Json) ? Names.JsonProperty
            : obj.ContainsKey(Names.LanguageMap) ? Names.LanguageProperty
            : obj.ContainsKey(Names.Vocab) ? Names.VocabProperty
            : obj.ContainsKey(Names.ValueList) ? Names.ListProperty
            : obj.TryGetPropertyValue(Names.Value, out var value) ? (IsGeometry(value) ? Names.GeoProperty : Names.Property)
            : null;
        if (inferred is not null)
        {
            if (hasType)
            {
                throw NgsiLdException.BadRequest($"Attribute '{path}': type must be one of the NGSI-LD attribute types.");
            }

            return ParseNormalized(path, obj, inferred, context, kind, depth);
        }

        // Concise rule 5: any other object is the value of a Property.
        CheckValue(path, obj, kind, 0);
        return new JsonObject { [Names.Type] = Names.Property, [Names.Value] = obj.DeepClone() };
    }

    private static JsonObject ParseNormalized(string path, JsonObject obj, string type, LdContext context, PayloadKind kind, int depth)
    {
        var content = Names.ContentMember(type)!;
        var result = new JsonObject { [Names.Type] = type };
        var hasContent = false;
        foreach (var (key, node) in obj)
        {
            switch (key)
            {
                case Names.Type:
                    continue;
                case Names.Value or Names.Object or Names.LanguageMap or Names.Vocab or Names.Json or Names.ValueList or Names.ObjectList:
                    if (key != content)
                    {
                        throw NgsiLdException.BadRequest($"Attribute '{path}': member '{key}' is not allowed in a {type}.");
                    }

                    result[key] = ParseContent(path, type, node, context, kind);
                    hasContent = true;
                    break;
                case Names.ValueType:
                    if (type is Names.Relationship or Names.ListRelationship)
                    {
                        throw NgsiLdException.BadRequest($"Attribute '{path}': valueType is not allowed in a {type}.");
                    }

                    result[key] = TryGetString(node, out var valueType) && valueType.Length > 0
                        ? ExpandVocab(path, Names.ValueType, valueType, context)
                        : throw NgsiLdException.BadRequest($"Attribute '{path}': valueType must be a string.");
                    break;
                case Names.ObjectType:
                    if (type is not (Names.Relationship or Names.ListRelationship))
                    {
                        throw NgsiLdException.BadRequest($"Attribute '{path}': objectType is only allowed in a Relationship or ListRelationship.");
                    }

                    result[key] = ExpandVocabs(path, "objectType", node, context);
                    break;
                case Names.ObservedAt or Names.ExpiresAt:
                    result[key] = ParseDateTime(path, key, node);
                    break;
                case Names.UnitCode:
                    if (type is Names.Relationship or Names.ListRelationship or Names.LanguageProperty or Names.VocabProperty or Names.JsonProperty)
                    {
                        throw NgsiLdException.BadRequest($"Attribute '{path}': unitCode is not allowed in a {type}.");
                    }

                    result[key] = TryGetString(node, out var unit) && unit.Length > 0
                        ? unit
                        : throw NgsiLdException.BadRequest($"Attribute '{path}': unitCode must be a non-empty string.");
                    break;
                case Names.DatasetId:
                    var datasetId = ParseDatasetId(path, node, context);
                    if (datasetId is not null)
                    {
                        result[key] = datasetId;
                    }

                    break;
                case Names.CreatedAt or Names.ModifiedAt or Names.DeletedAt or "instanceId" or Names.Lang
                    or "previousValue" or "previousObject" or "previousLanguageMap" or "previousVocab" or "previousJson"
                    or "previousValueList" or "previousObjectList":
                    // System-maintained or output-only members: never taken from a client.
                    continue;
                case "@context":
                    throw NgsiLdException.BadRequest($"Attribute '{path}': an @context cannot be embedded inside an attribute.");
                default:
                    var subPath = path + "." + key;
                    if (depth >= MaxAttributeDepth)
                    {
                        throw NgsiLdException.BadRequest($"Attribute '{subPath}': sub-attributes are nested too deeply.");
                    }

                    var iri = ExpandName(subPath, key, context);
                    if (result.ContainsKey(iri))
                    {
                        throw NgsiLdException.BadRequest($"Attribute '{subPath}' is given twice.");
                    }

                    result[iri] = ParseValue(subPath, node, context, kind, depth + 1);
                    break;
            }
        }

        if (!hasContent && kind == PayloadKind.Entity)
        {
            throw NgsiLdException.BadRequest($"Attribute '{path}': a {type} needs a '{content}' member.");
        }

        return result;
    }

    private static JsonNode ParseContent(string path, string type, JsonNode? node, LdContext context, PayloadKind kind)
    {
        if (IsJsonNull(node))
        {
            throw NgsiLdException.BadRequest($"Attribute '{path}': null is not a valid {Names.ContentMember(type)}.");
        }

        if (IsNullForm(type, node))
        {
            // Kept verbatim so the broker can tell a deletion request apart from a value.
            return kind == PayloadKind.Fragment
                ? node!.DeepClone()
                : throw NgsiLdException.BadRequest($"Attribute '{path}': the NGSI-LD Null is only allowed in updates.");
        }

        switch (type)
        {
            case Names.Property:
                CheckNullString(path, node, kind);
                CheckValue(path, node, kind, 0);
                CheckTemporalLiteral(path, node);
                return node!.DeepClone();
            case Names.GeoProperty:
                ValidateGeometry(path, node!);
                return node!.DeepClone();
            case Names.Relationship:
                return ParseUris(path, node);
            case Names.LanguageProperty:
                return ParseLanguageMap(path, node, kind);
            case Names.VocabProperty:
                return ExpandVocabs(path, "vocab", node, context);
            case Names.JsonProperty:
                CheckDepth(path, node, 0);
                return node!.DeepClone();
            case Names.ListProperty:
                if (node is not JsonArray list)
                {
                    throw NgsiLdException.BadRequest($"Attribute '{path}': valueList must be an array.");
                }

                CheckValue(path, list, kind, 0);
                return list.DeepClone();
            default:
                return ParseObjectList(path, node);
        }
    }

    private static bool IsNullForm(string type, JsonNode? node) => type switch
    {
        Names.LanguageProperty => node is JsonObject { Count: 1 } o && Instances.IsNullString(o["@none"]),
        Names.ListProperty or Names.ListRelationship => node is JsonArray { Count: 1 } a && Instances.IsNullString(a[0]),
        _ => Instances.IsNullString(node),
    };

    private static JsonNode ParseUris(string path, JsonNode? node)
    {
        if (TryGetString(node, out var single))
        {
            return NameRules.IsUri(single) ? single : throw NgsiLdException.BadRequest($"Attribute '{path}': object '{single}' is not a URI.");
        }

        if (node is not JsonArray { Count: > 0 } array)
        {
            throw NgsiLdException.BadRequest($"Attribute '{path}': object must be a URI or a non-empty array of URIs.");
        }

        var result = new JsonArray();
        foreach (var item in array)
        {
            if (!TryGetString(item, out var uri) || !NameRules.IsUri(uri) || uri == Names.NgsiLdNull)
            {
                throw NgsiLdException.BadRequest($"Attribute '{path}': object must be a URI or a non-empty array of URIs.");
            }

            result.Add(uri);
        }

        return result;
    }

    private static JsonArray ParseObjectList(string path, JsonNode? node)
    {
        if (node is not JsonArray array)
        {
            throw NgsiLdException.BadRequest($"Attribute '{path}': objectList must be an array.");
        }

        var result = new JsonArray();
        foreach (var item in array)
        {
            var target = item is JsonObject { Count: 1 } o ? o[Names.Object] : item;
            if (!TryGetString(target, out var uri) || !NameRules.IsUri(uri) || uri == Names.NgsiLdNull)
            {
                throw NgsiLdException.BadRequest($"Attribute '{path}': objectList items must be URIs or {{\"object\": URI}}.");
            }

            result.Add(new JsonObject { [Names.Object] = uri });
        }

        return result;
    }

    private static JsonObject ParseLanguageMap(string path, JsonNode? node, PayloadKind kind)
    {
        if (node is not JsonObject map)
        {
            throw NgsiLdException.BadRequest($"Attribute '{path}': languageMap must be an object.");
        }

        var result = new JsonObject();
        foreach (var (tag, text) in map)
        {
            if (tag != "@none" && !IsLanguageTag(tag))
            {
                throw NgsiLdException.BadRequest($"Attribute '{path}': '{tag}' is not a language tag.");
            }

            var ok = TryGetString(text, out _) || (text is JsonArray strings && AllStrings(strings));
            // In an update, the NGSI-LD Null as one language's text removes that language on merge.
            if (!ok || (kind == PayloadKind.Entity && Instances.IsNullString(text)))
            {
                throw NgsiLdException.BadRequest($"Attribute '{path}': languageMap values must be strings or arrays of strings.");
            }

            result[tag] = text!.DeepClone();
        }

        return result;
    }

    private static JsonNode ExpandVocabs(string path, string member, JsonNode? node, LdContext context)
    {
        if (TryGetString(node, out var single) && single.Length > 0)
        {
            return ExpandVocab(path, member, single, context);
        }

        if (node is not JsonArray { Count: > 0 } array)
        {
            throw NgsiLdException.BadRequest($"Attribute '{path}': {member} must be a string or a non-empty array of strings.");
        }

        var result = new JsonArray();
        foreach (var item in array)
        {
            if (!TryGetString(item, out var term) || term.Length == 0 || term == Names.NgsiLdNull)
            {
                throw NgsiLdException.BadRequest($"Attribute '{path}': {member} must be a string or a non-empty array of strings.");
            }

            result.Add(ExpandVocab(path, member, term, context));
        }

        return result;
    }

    // A vocab term must end up an IRI; "bad name" would otherwise be stored as an IRI with a space in it.
    private static string ExpandVocab(string path, string member, string term, LdContext context)
    {
        var iri = context.ExpandVocabValue(term);
        return NameRules.IsUri(iri) ? iri : throw NgsiLdException.BadRequest($"Attribute '{path}': {member} '{term}' does not expand to an IRI.");
    }

    private static string? ParseDatasetId(string path, JsonNode? node, LdContext context)
    {
        if (!TryGetString(node, out var text))
        {
            throw NgsiLdException.BadRequest($"Attribute '{path}': datasetId must be a URI.");
        }

        if (text == "@none")
        {
            return null;
        }

        if (text == Names.NgsiLdNull)
        {
            throw NgsiLdException.BadRequest($"Attribute '{path}': a datasetId cannot be the NGSI-LD Null.");
        }

        var iri = NameRules.IsUri(text) ? text : context.ExpandTerm(text);
        return NameRules.IsUri(iri) ? iri : throw NgsiLdException.BadRequest($"Attribute '{path}': datasetId '{text}' is not a URI.");
    }

    private static string ParseDateTime(string path, string member, JsonNode? node)
    {
        var normalized = TryGetString(node, out var text) ? Timestamps.NormalizeDateTime(text) : null;
        return normalized ?? throw NgsiLdException.BadRequest($"Attribute '{path}': {member} must be a UTC DateTime (YYYY-MM-DDThh:mm:ss[.ffffff]Z).");
    }

    private static void ValidateGeometry(string path, JsonNode node)
    {
        if (node is not JsonObject geometry || !TryGetString(geometry[Names.Type], out _) || !geometry.ContainsKey("coordinates"))
        {
            throw NgsiLdException.BadRequest($"Attribute '{path}': a GeoProperty value must be a GeoJSON geometry with type and coordinates.");
        }

        try
        {
            _ = Geo.GeoJson.ToGeometry(geometry);
        }
        catch (NgsiLdException ex)
        {
            throw NgsiLdException.BadRequest($"Attribute '{path}': {ex.Message}");
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or FormatException or JsonException or OverflowException)
        {
            // Whatever the geometry library objects to is still the client's bad data, never a 500.
            throw NgsiLdException.BadRequest($"Attribute '{path}': invalid geometry ({ex.Message}).");
        }
    }

    private static void CheckDatasets(string path, JsonArray instances)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var hasDefault = false;
        foreach (var item in instances)
        {
            var datasetId = Instances.DatasetId((JsonObject)item!);
            bool duplicate;
            if (datasetId is null)
            {
                duplicate = hasDefault;
                hasDefault = true;
            }
            else
            {
                duplicate = !seen.Add(datasetId);
            }

            if (duplicate)
            {
                throw NgsiLdException.BadRequest(datasetId is null
                    ? $"Attribute '{path}': at most one instance may have no datasetId."
                    : $"Attribute '{path}': datasetId '{datasetId}' is used by more than one instance.");
            }
        }
    }

    private static void CheckNullString(string path, JsonNode? node, PayloadKind kind)
    {
        if (kind == PayloadKind.Entity && Instances.IsNullString(node))
        {
            throw NgsiLdException.BadRequest($"Attribute '{path}': the NGSI-LD Null is only allowed in updates.");
        }
    }

    // Values are any JSON but null (JSON-LD would silently drop it); depth is bounded.
    private static void CheckValue(string path, JsonNode? node, PayloadKind kind, int depth)
    {
        if (depth > MaxValueDepth)
        {
            throw NgsiLdException.BadRequest($"Attribute '{path}': value is nested too deeply.");
        }

        switch (node)
        {
            case JsonObject obj:
                foreach (var (_, member) in obj)
                {
                    CheckNullString(path, member, kind);
                    CheckValue(path, member, kind, depth + 1);
                }

                break;
            case JsonArray array:
                foreach (var item in array)
                {
                    CheckValue(path, item, kind, depth + 1);
                }

                break;
            default:
                if (IsJsonNull(node))
                {
                    throw NgsiLdException.BadRequest($"Attribute '{path}': null is not allowed in a value.");
                }

                break;
        }
    }

    // A typed temporal value ({"@type": "DateTime", "@value": "…"}, §4.6.3) must hold what its type says, so
    // that q can compare it; an impossible date is a client error, not an opaque string.
    private static void CheckTemporalLiteral(string path, JsonNode? node)
    {
        if (node is not JsonObject literal || !TryGetString(literal["@type"], out var type))
        {
            return;
        }

        var valid = type switch
        {
            "DateTime" or "https://uri.etsi.org/ngsi-ld/DateTime" => TryGetString(literal["@value"], out var text) && TemporalText.TryParseDateTime(text, out _),
            "Date" or "https://uri.etsi.org/ngsi-ld/Date" => TryGetString(literal["@value"], out var text) && TemporalText.TryParseDate(text, out _),
            "Time" or "https://uri.etsi.org/ngsi-ld/Time" => TryGetString(literal["@value"], out var text) && TemporalText.TryParseTime(text, out _),
            _ => true,
        };
        if (!valid)
        {
            throw NgsiLdException.BadRequest($"Attribute '{path}': @value is not a valid {type}.");
        }
    }

    private static void CheckDepth(string path, JsonNode? node, int depth)
    {
        if (depth > MaxValueDepth)
        {
            throw NgsiLdException.BadRequest($"Attribute '{path}': value is nested too deeply.");
        }

        if (node is JsonObject obj)
        {
            foreach (var (_, member) in obj)
            {
                CheckDepth(path, member, depth + 1);
            }
        }
        else if (node is JsonArray array)
        {
            foreach (var item in array)
            {
                CheckDepth(path, item, depth + 1);
            }
        }
    }

    private static bool IsLanguageTag(string tag)
    {
        // RFC 5646 shape: subtags of 1-8 alphanumerics joined by '-', the first alphabetic.
        var length = 0;
        for (var i = 0; i < tag.Length; i++)
        {
            var ch = tag[i];
            if (ch == '-')
            {
                if (length == 0)
                {
                    return false;
                }

                length = 0;
                continue;
            }

            var first = i == length;
            if (!(first ? char.IsAsciiLetter(ch) : char.IsAsciiLetterOrDigit(ch)) || ++length > 8)
            {
                return false;
            }
        }

        return length > 0;
    }

    internal static bool TryGetString(JsonNode? node, out string value)
    {
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.String && v.TryGetValue(out string? s))
        {
            value = s;
            return true;
        }

        value = string.Empty;
        return false;
    }

    private static bool IsJsonNull(JsonNode? node) => node is null || node.GetValueKind() == JsonValueKind.Null;

    private static bool AllObjects(JsonArray array)
    {
        foreach (var item in array)
        {
            if (item is not JsonObject)
            {
                return false;
            }
        }

        return true;
    }

    private static bool NoObjects(JsonArray array)
    {
        foreach (var item in array)
        {
            if (item is JsonObject)
            {
                return false;
            }
        }

        return true;
    }

    private static bool AllStrings(JsonArray array)
    {
        foreach (var item in array)
        {
            if (!TryGetString(item, out _))
            {
                return false;
            }
        }

        return true;
    }

    private static bool Contains(JsonArray array, string text)
    {
        foreach (var item in array)
        {
            if (TryGetString(item, out var s) && s == text)
            {
                return true;
            }
        }

        return false;
    }
}
