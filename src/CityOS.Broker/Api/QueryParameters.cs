using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using CityOS.Broker.Storage;
using CityOS.NgsiLd.Errors;
using CityOS.NgsiLd.Geo;
using CityOS.NgsiLd.JsonLd;
using CityOS.NgsiLd.Model;
using CityOS.NgsiLd.Query;
using Microsoft.AspNetCore.Http;

namespace CityOS.Broker.Api;

/// <summary>The URL query parameters of NGSI-LD reads and writes (§6.4, FACTS §6), parsed and validated once.</summary>
internal static class QueryParameters
{
    private static readonly HashSet<string> QueryEntityParameters = new(StringComparer.Ordinal)
    {
        "id", "idPattern", "type", "attrs", "q", "scopeQ", "georel", "geometry", "coordinates", "geoproperty",
        "limit", "offset", "count", "options", "format", "pick", "omit", "lang", "datasetId", "geometryProperty",
        "local", "csf", "expandValues", "jsonKeys",
    };

    /// <summary>Fails with BadRequestData when the request carries a parameter outside <paramref name="allowed"/>.</summary>
    public static void RejectUnknown(IQueryCollection query, IReadOnlySet<string>? allowed)
    {
        allowed ??= QueryEntityParameters;
        foreach (var key in query.Keys)
        {
            if (!allowed.Contains(key))
            {
                throw NgsiLdException.BadRequest($"Unknown query parameter '{key}'.");
            }
        }
    }

    /// <summary>The parameters of GET /entities and DELETE /entities.</summary>
    public static IReadOnlySet<string> EntityQuery => QueryEntityParameters;

    public static string? Single(IQueryCollection query, string name)
    {
        var values = query[name];
        if (values.Count > 1)
        {
            throw NgsiLdException.BadRequest($"Query parameter '{name}' is given more than once.");
        }

        var value = values.Count == 1 ? values[0] : null;

        // An empty value (q=, scopeQ=) is a malformed filter, not an absent one: ignoring it would widen the
        // answer, or the scope of a purge, behind the client's back.
        return value is not null && value.Length == 0
            ? throw NgsiLdException.BadRequest($"Query parameter '{name}' is empty.")
            : value;
    }

    /// <summary>Comma-separated list; null when absent.</summary>
    public static string[]? List(IQueryCollection query, string name) =>
        Single(query, name)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>The words of options= (and format=, which wins for the representation).</summary>
    public static HashSet<string> Options(IQueryCollection query)
    {
        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (var o in List(query, "options") ?? [])
        {
            set.Add(o);
        }

        return set;
    }

    public static Representation RepresentationOf(IQueryCollection query, HashSet<string> options)
    {
        var format = Single(query, "format");
        if (format is not null)
        {
            return ParseRepresentation(format) ?? throw NgsiLdException.BadRequest($"format '{format}' is not one of normalized, concise, simplified, keyValues.");
        }

        Representation? chosen = null;
        foreach (var o in options)
        {
            if (ParseRepresentation(o) is { } r)
            {
                if (chosen is not null && chosen != r)
                {
                    throw NgsiLdException.BadRequest("options holds more than one representation.");
                }

                chosen = r;
            }
        }

        return chosen ?? Representation.Normalized;
    }

    private static Representation? ParseRepresentation(string word) => word switch
    {
        "normalized" => Representation.Normalized,
        "concise" => Representation.Concise,
        "keyValues" or "simplified" => Representation.KeyValues,
        _ => null,
    };

    /// <summary>Rejects options words that the operation does not know.</summary>
    public static void CheckOptions(HashSet<string> options, params string[] allowed)
    {
        foreach (var o in options)
        {
            if (Array.IndexOf(allowed, o) < 0)
            {
                throw NgsiLdException.BadRequest($"options value '{o}' is not supported by this operation.");
            }
        }
    }

    /// <summary>Builds the render options (representation, sysAttrs, attrs/pick/omit, lang, datasetId).</summary>
    public static RenderOptions Render(IQueryCollection query, HashSet<string> options, LdContext context)
    {
        var attrs = ExpandNames(List(query, "attrs"), context);
        var pick = ExpandNames(List(query, "pick"), context);
        var omit = ExpandNames(List(query, "omit"), context);
        if (pick is not null && omit is not null)
        {
            throw NgsiLdException.BadRequest("pick and omit cannot be used together.");
        }

        if (attrs is not null)
        {
            // attrs= keeps the listed attributes (id and type always stay).
            pick ??= new HashSet<string>(StringComparer.Ordinal) { Names.Id, Names.Type, Names.Scope };
            if (pick.Contains(Names.Id))
            {
                pick.UnionWith(attrs);
            }
            else
            {
                pick.IntersectWith(attrs);
            }
        }

        var lang = Single(query, "lang");
        var datasetIds = List(query, "datasetId");
        return new RenderOptions
        {
            Representation = RepresentationOf(query, options),
            SysAttrs = options.Contains("sysAttrs"),
            Pick = pick,
            Omit = omit,
            Lang = lang,
            DatasetIds = datasetIds is null ? null : new HashSet<string>(datasetIds.Select(d => d == "@none" ? d : ExpandDatasetId(d, context)), StringComparer.Ordinal),
        };
    }

    /// <summary>Expands a datasetId given in a URL (a URI, or a term of the @context); anything that does not end up a URI is 400.</summary>
    /// <summary>The parameters of Delete Attribute (entity or temporal): which instance, or all of them.</summary>
    public static readonly HashSet<string> DeleteAttribute = new(StringComparer.Ordinal) { "datasetId", "deleteAll", "local" };

    /// <summary>
    /// The instance a Delete Attribute names: the one with <c>datasetId</c> (expanded; null for the default instance,
    /// also spelled <c>@none</c>), or every one with <c>deleteAll=true</c>. BadRequestData for anything else.
    /// </summary>
    public static (string? DatasetId, bool DeleteAll) DeleteAttributeTarget(IQueryCollection query, LdContext context)
    {
        var deleteAll = Single(query, "deleteAll") switch
        {
            null or "false" => false,
            "true" => true,
            var other => throw NgsiLdException.BadRequest($"deleteAll must be true or false, not '{other}'."),
        };
        var datasetId = Single(query, "datasetId");
        if (datasetId is not null && deleteAll)
        {
            throw NgsiLdException.BadRequest("datasetId and deleteAll=true cannot be used together.");
        }

        return (datasetId is null or "@none" ? null : ExpandDatasetId(datasetId, context), deleteAll);
    }

    public static string ExpandDatasetId(string datasetId, LdContext context)
    {
        var iri = NameRules.IsUri(datasetId) ? datasetId : context.ExpandTerm(datasetId);
        return NameRules.IsUri(iri) ? iri : throw NgsiLdException.BadRequest($"datasetId '{(datasetId.Length <= 80 ? datasetId : datasetId[..80] + "…")}' is not a URI.");
    }

    /// <summary>Expands a type or attribute name given in a URL; a name NGSI-LD does not allow is 400, not an empty match.</summary>
    public static string ExpandName(string name, LdContext context) =>
        NameRules.IsValidName(name)
            ? context.ExpandTerm(name)
            : throw NgsiLdException.BadRequest($"'{(name.Length <= 80 ? name : name[..80] + "…")}' is not a valid NGSI-LD name.");

    private static HashSet<string>? ExpandNames(string[]? names, LdContext context)
    {
        if (names is null)
        {
            return null;
        }

        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in names)
        {
            set.Add(name is Names.Id or Names.Type or Names.Scope ? name : ExpandName(name, context));
        }

        return set;
    }

    /// <summary>Builds an entity query from GET /entities parameters.</summary>
    public static EntityQuery EntityQueryOf(IQueryCollection query, LdContext context, BrokerOptions options, bool requireFilter)
    {
        var ids = List(query, "id");
        foreach (var id in ids ?? [])
        {
            EntityParser.ValidateEntityId(id);
        }

        var idPattern = Single(query, "idPattern");
        var type = Single(query, "type");
        var attrs = List(query, "attrs");
        var q = Single(query, "q");
        var scopeQ = Single(query, "scopeQ");
        var georel = Single(query, "georel");
        var geometry = Single(query, "geometry");
        var coordinates = Single(query, "coordinates");
        var geoproperty = Single(query, "geoproperty");
        GeoQuery? geo = null;
        if (georel is not null || geometry is not null || coordinates is not null)
        {
            if (georel is null || geometry is null || coordinates is null)
            {
                throw NgsiLdException.BadRequest("georel, geometry and coordinates must be given together.");
            }

            geo = GeoQuery.Parse(georel, geometry, coordinates, geoproperty, context);
        }

        if (requireFilter && ids is null && idPattern is null && type is null && attrs is null && q is null && geo is null && scopeQ is null)
        {
            throw NgsiLdException.BadRequest("A query needs at least one of id, idPattern, type, attrs, q, scopeQ or a geo-query.");
        }

        var (limit, offset, count) = Paging(query, options);
        return new EntityQuery
        {
            Ids = ids,
            IdPattern = idPattern is null ? null : CompilePattern(idPattern),
            Type = type is null || type == "*" ? null : TypeExpressionParser.Parse(type, context),
            Attrs = attrs?.Select(a => ExpandName(a, context)).ToArray(),
            Q = q is null ? null : QParser.Parse(q, context),
            ScopeQ = scopeQ is null ? null : ScopeQueryParser.Parse(scopeQ),
            Geo = geo,
            Limit = limit,
            Offset = offset,
            Count = count,
        };
    }

    /// <summary>limit, offset and count, with 403 TooManyResults above the maximum page size.</summary>
    public static (int Limit, int Offset, bool Count) Paging(IQueryCollection query, BrokerOptions options)
    {
        var count = Single(query, "count") switch
        {
            null or "false" => false,
            "true" => true,
            var other => throw NgsiLdException.BadRequest($"count must be true or false, not '{other}'."),
        };
        var limit = Integer(query, "limit") ?? options.DefaultPageSize;
        var offset = Integer(query, "offset") ?? 0;
        if (limit < 0 || offset < 0)
        {
            throw NgsiLdException.BadRequest("limit and offset must not be negative.");
        }

        if (limit == 0 && !count)
        {
            throw NgsiLdException.BadRequest("limit=0 is only allowed together with count=true.");
        }

        if (limit > options.MaxPageSize)
        {
            throw new NgsiLdException(ErrorType.TooManyResults, $"limit {limit} is above the maximum page size of {options.MaxPageSize}.");
        }

        return (limit, offset, count);
    }

    private static int? Integer(IQueryCollection query, string name)
    {
        var value = Single(query, name);
        if (value is null)
        {
            return null;
        }

        return int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            ? n
            : value.StartsWith('-') ? -1 : throw NgsiLdException.BadRequest($"{name} must be a non-negative integer, not '{value}'.");
    }

    public static Regex CompilePattern(string pattern)
    {
        try
        {
            return new Regex(pattern, RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100));
        }
        catch (ArgumentException e)
        {
            throw NgsiLdException.BadRequest($"idPattern is not a valid regular expression: {e.Message}");
        }
    }

    /// <summary>The geometryProperty for GeoJSON output (expanded; default location).</summary>
    public static string GeometryProperty(IQueryCollection query, LdContext context) =>
        Single(query, "geometryProperty") is { } g ? ExpandName(g, context) : Names.LocationIri;

    /// <summary>Builds a query from the body of POST /entityOperations/query (§5.2.23).</summary>
    public static EntityQuery EntityQueryOf(JsonObject body, LdContext context, (int Limit, int Offset, bool Count) paging)
    {
        if ((string?)body["type"] != "Query")
        {
            throw NgsiLdException.BadRequest("The query body must have \"type\": \"Query\".");
        }

        List<string>? ids = null;
        string? idPattern = null;
        TypeExpression? type = null;
        if (body["entities"] is JsonArray entities)
        {
            // Several entity selectors are OR-ed: the common case is one; several are folded into id/type lists.
            var typeTerms = new List<string>();
            foreach (var selector in entities)
            {
                if (selector is not JsonObject s)
                {
                    throw NgsiLdException.BadRequest("entities must be an array of objects.");
                }

                if (s["id"] is JsonValue idValue && idValue.TryGetValue<string>(out var id))
                {
                    EntityParser.ValidateEntityId(id);
                    (ids ??= []).Add(id);
                }

                if (s["idPattern"] is JsonValue p && p.TryGetValue<string>(out var pattern))
                {
                    idPattern = pattern;
                }

                if (s["type"] is JsonValue t && t.TryGetValue<string>(out var typeText))
                {
                    typeTerms.Add(entities.Count > 1 ? "(" + typeText + ")" : typeText);
                }
            }

            if (typeTerms.Count > 0)
            {
                type = TypeExpressionParser.Parse(string.Join('|', typeTerms), context);
            }
        }
        else if (body["entities"] is not null)
        {
            throw NgsiLdException.BadRequest("entities must be an array.");
        }

        var attrs = body["attrs"] switch
        {
            null => null,
            JsonArray a => a.Select(n => ExpandName(StringOf(n, "attrs"), context)).ToArray(),
            _ => throw NgsiLdException.BadRequest("attrs must be an array of strings."),
        };
        var q = body["q"] is null ? null : QParser.Parse(StringOf(body["q"], "q"), context);
        var scopeQ = body["scopeQ"] is null ? null : ScopeQueryParser.Parse(StringOf(body["scopeQ"], "scopeQ"));
        var geo = body["geoQ"] switch
        {
            null => null,
            JsonObject g => GeoQuery.FromGeoQ(g, context),
            _ => throw NgsiLdException.BadRequest("geoQ must be an object."),
        };
        return new EntityQuery
        {
            Ids = ids,
            IdPattern = idPattern is null ? null : CompilePattern(idPattern),
            Type = type,
            Attrs = attrs,
            Q = q,
            ScopeQ = scopeQ,
            Geo = geo,
            Limit = paging.Limit,
            Offset = paging.Offset,
            Count = paging.Count,
        };
    }

    private static string StringOf(JsonNode? node, string name) =>
        node is JsonValue v && v.TryGetValue<string>(out var s) ? s : throw NgsiLdException.BadRequest($"{name} must be a string.");
}
