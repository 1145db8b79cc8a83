using System.Text.Json.Nodes;
using CityOS.Broker.Storage;
using CityOS.NgsiLd.Errors;
using CityOS.NgsiLd.JsonLd;
using CityOS.NgsiLd.Query;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace CityOS.Broker.Api;

/// <summary>Type and attribute discovery (§5.7.5–§5.7.8): /types, /types/{type}, /attributes, /attributes/{attrId}.</summary>
internal static class DiscoveryApi
{
    private static readonly HashSet<string> DetailsOnly = new(StringComparer.Ordinal) { "details", "local" };

    public static RouteGroupBuilder MapDiscoveryApi(this RouteGroupBuilder api)
    {
        api.MapGet("/types", TypesAsync).WithName("RetrieveEntityTypes")
            .Describe("Retrieve entity types", "EntityTypeList of the types in use; details=true gives EntityType objects with their attribute names.", DetailsOnly)
            .ReturnsBody().Problems(StatusCodes.Status404NotFound);
        api.MapGet("/types/{type}", TypeAsync).WithName("RetrieveEntityTypeInfo")
            .Describe("Retrieve entity type information", "EntityTypeInfo: entity count and attribute details of one type.", DetailsOnly)
            .ReturnsBody().Problems(StatusCodes.Status404NotFound);
        api.MapGet("/attributes", AttributesAsync).WithName("RetrieveAttributes")
            .Describe("Retrieve attributes", "AttributeList of the attribute names in use; details=true gives Attribute objects.", DetailsOnly)
            .ReturnsBody().Problems(StatusCodes.Status404NotFound);
        api.MapGet("/attributes/{attrId}", AttributeAsync).WithName("RetrieveAttributeInfo")
            .Describe("Retrieve attribute information", "Attribute: count, attribute types and entity types of one attribute.", DetailsOnly)
            .ReturnsBody().Problems(StatusCodes.Status404NotFound);
        return api;
    }

    private static async Task<(string Tenant, LdContext Context, ResponseFormat Format, IReadOnlyList<AttributeUsage> Usage)> ReadAsync(
        HttpContext http, IEntityStore store, IContextResolver resolver, CancellationToken ct)
    {
        var request = http.Request;
        QueryParameters.RejectUnknown(request.Query, DetailsOnly);
        var format = NgsiLdRequest.Negotiate(request, allowGeoJson: false);
        var tenant = NgsiLdRequest.Tenant(request);
        if (!await store.TenantExistsAsync(tenant, ct))
        {
            throw EntityService.TenantNotFound(tenant);
        }

        var context = await NgsiLdRequest.ContextFromLinkAsync(request, resolver, ct);
        var usage = await store.GetAttributeUsageAsync(tenant, ct);
        return (tenant, context, format, usage);
    }

    private static bool Details(HttpRequest request) => QueryParameters.Single(request.Query, "details") switch
    {
        null or "false" => false,
        "true" => true,
        var other => throw NgsiLdException.BadRequest($"details must be true or false, not '{other}'."),
    };

    private static async Task<IResult> TypesAsync(HttpContext http, IEntityStore store, IContextResolver resolver, CancellationToken ct)
    {
        var (_, context, format, usage) = await ReadAsync(http, store, resolver, ct);
        var byType = new SortedDictionary<string, SortedSet<string>>(StringComparer.Ordinal);
        foreach (var row in usage)
        {
            if (!byType.TryGetValue(row.EntityType, out var attributes))
            {
                byType[row.EntityType] = attributes = new SortedSet<string>(StringComparer.Ordinal);
            }

            if (row.Attribute is not null)
            {
                attributes.Add(row.Attribute);
            }
        }

        if (!Details(http.Request))
        {
            var list = new JsonArray();
            foreach (var type in byType.Keys)
            {
                list.Add(context.CompactIri(type));
            }

            return new NgsiLdResponse(new JsonObject
            {
                ["id"] = "urn:ngsi-ld:EntityTypeList:" + Guid.NewGuid(),
                ["type"] = "EntityTypeList",
                ["typeList"] = list,
            }, format, context);
        }

        var details = new JsonArray();
        foreach (var (type, attributes) in byType)
        {
            details.Add(new JsonObject
            {
                ["id"] = type,
                ["type"] = "EntityType",
                ["typeName"] = context.CompactIri(type),
                ["attributeNames"] = Compacted(attributes, context),
            });
        }

        return new NgsiLdResponse(details, format, context);
    }

    private static async Task<IResult> TypeAsync(string type, HttpContext http, IEntityStore store, IContextResolver resolver, CancellationToken ct)
    {
        var (tenant, context, format, usage) = await ReadAsync(http, store, resolver, ct);
        var typeIri = QueryParameters.ExpandName(type, context);
        var attributes = new SortedDictionary<string, SortedSet<string>>(StringComparer.Ordinal);
        var known = false;
        foreach (var row in usage)
        {
            if (row.EntityType != typeIri)
            {
                continue;
            }

            known = true;
            if (row.Attribute is null)
            {
                continue;
            }

            if (!attributes.TryGetValue(row.Attribute, out var kinds))
            {
                attributes[row.Attribute] = kinds = new SortedSet<string>(StringComparer.Ordinal);
            }

            if (row.AttributeType is not null)
            {
                kinds.Add(row.AttributeType);
            }
        }

        if (!known)
        {
            throw NgsiLdException.NotFound($"No entity of type '{type}' exists.");
        }

        var count = await store.QueryEntitiesAsync(tenant, new EntityQuery { Type = TypeExpressionParser.Parse(typeIri, context), Limit = 0, Count = true }, ct);
        var details = new JsonArray();
        foreach (var (attribute, kinds) in attributes)
        {
            details.Add(new JsonObject
            {
                ["id"] = attribute,
                ["type"] = "Attribute",
                ["attributeName"] = context.CompactIri(attribute),
                ["attributeTypes"] = new JsonArray(kinds.Select(k => (JsonNode?)JsonValue.Create(k)).ToArray()),
            });
        }

        return new NgsiLdResponse(new JsonObject
        {
            ["id"] = typeIri,
            ["type"] = "EntityTypeInfo",
            ["typeName"] = context.CompactIri(typeIri),
            ["entityCount"] = count.TotalCount ?? 0,
            ["attributeDetails"] = details,
        }, format, context);
    }

    private static async Task<IResult> AttributesAsync(HttpContext http, IEntityStore store, IContextResolver resolver, CancellationToken ct)
    {
        var (_, context, format, usage) = await ReadAsync(http, store, resolver, ct);
        var byAttribute = Summarise(usage);
        if (!Details(http.Request))
        {
            var list = new JsonArray();
            foreach (var attribute in byAttribute.Keys)
            {
                list.Add(context.CompactIri(attribute));
            }

            return new NgsiLdResponse(new JsonObject
            {
                ["id"] = "urn:ngsi-ld:AttributeList:" + Guid.NewGuid(),
                ["type"] = "AttributeList",
                ["attributeList"] = list,
            }, format, context);
        }

        var details = new JsonArray();
        foreach (var (attribute, summary) in byAttribute)
        {
            details.Add(AttributeInfo(attribute, summary, context, withCounts: false));
        }

        return new NgsiLdResponse(details, format, context);
    }

    private static async Task<IResult> AttributeAsync(string attrId, HttpContext http, IEntityStore store, IContextResolver resolver, CancellationToken ct)
    {
        var (_, context, format, usage) = await ReadAsync(http, store, resolver, ct);
        var attribute = QueryParameters.ExpandName(attrId, context);
        var byAttribute = Summarise(usage);
        if (!byAttribute.TryGetValue(attribute, out var summary))
        {
            throw NgsiLdException.NotFound($"No entity has an attribute '{attrId}'.");
        }

        return new NgsiLdResponse(AttributeInfo(attribute, summary, context, withCounts: true), format, context);
    }

    private sealed class AttributeSummary
    {
        public long Count { get; set; }

        public SortedSet<string> Kinds { get; } = new(StringComparer.Ordinal);

        public SortedSet<string> Types { get; } = new(StringComparer.Ordinal);
    }

    private static SortedDictionary<string, AttributeSummary> Summarise(IReadOnlyList<AttributeUsage> usage)
    {
        var result = new SortedDictionary<string, AttributeSummary>(StringComparer.Ordinal);
        foreach (var row in usage)
        {
            if (row.Attribute is null)
            {
                continue;
            }

            if (!result.TryGetValue(row.Attribute, out var summary))
            {
                result[row.Attribute] = summary = new AttributeSummary();
            }

            summary.Count += row.EntityCount;
            summary.Types.Add(row.EntityType);
            if (row.AttributeType is not null)
            {
                summary.Kinds.Add(row.AttributeType);
            }
        }

        return result;
    }

    private static JsonObject AttributeInfo(string attribute, AttributeSummary summary, LdContext context, bool withCounts)
    {
        var info = new JsonObject
        {
            ["id"] = attribute,
            ["type"] = "Attribute",
            ["attributeName"] = context.CompactIri(attribute),
        };
        if (withCounts)
        {
            info["attributeCount"] = summary.Count;
            info["attributeTypes"] = new JsonArray(summary.Kinds.Select(k => (JsonNode?)JsonValue.Create(k)).ToArray());
        }

        info["typeNames"] = Compacted(summary.Types, context);
        return info;
    }

    private static JsonArray Compacted(IEnumerable<string> iris, LdContext context)
    {
        var array = new JsonArray();
        foreach (var iri in iris)
        {
            array.Add(context.CompactIri(iri));
        }

        return array;
    }
}
