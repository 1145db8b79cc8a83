using System.Text.Json.Nodes;
using CityOS.Broker.Storage;
using CityOS.NgsiLd.Errors;
using CityOS.NgsiLd.JsonLd;
using CityOS.NgsiLd.Model;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;

namespace CityOS.Broker.Api;

/// <summary>The NGSI-LD entity endpoints (§6.4–§6.7): /entities and /entities/{id}/attrs.</summary>
internal static class EntitiesApi
{
    private static readonly HashSet<string> RetrieveParameters = new(StringComparer.Ordinal)
    {
        "attrs", "pick", "omit", "options", "format", "lang", "datasetId", "geometryProperty", "type", "local",
    };

    private static readonly string[] CoreMembers = [Names.Id, Names.Type, Names.Scope, "@context"];
    private static readonly HashSet<string> NoParameters = new(StringComparer.Ordinal) { "local" };
    private static readonly HashSet<string> OptionsOnly = new(StringComparer.Ordinal) { "options", "local" };

    public static RouteGroupBuilder MapEntitiesApi(this RouteGroupBuilder api)
    {
        api.MapPost("/entities", CreateAsync).WithName("CreateEntity")
            .Describe("Create entity", "Creates an entity; 201 with Location. 409 AlreadyExists when the id exists; may create the tenant.", NoParameters, jsonBody: true)
            .Returns(StatusCodes.Status201Created).Problems(StatusCodes.Status409Conflict, StatusCodes.Status411LengthRequired, StatusCodes.Status413PayloadTooLarge, StatusCodes.Status415UnsupportedMediaType, StatusCodes.Status503ServiceUnavailable);
        api.MapGet("/entities", QueryAsync).WithName("QueryEntities")
            .Describe("Query entities", "Entities matching id/idPattern/type/attrs/q/scopeQ/geo-query, paged by limit and offset (Link rel=next/prev). Needs one filter unless local=true.", QueryParameters.EntityQuery)
            .ReturnsBody(geoJson: true).Problems(StatusCodes.Status403Forbidden, StatusCodes.Status404NotFound, StatusCodes.Status503ServiceUnavailable);
        api.MapDelete("/entities", PurgeAsync).WithName("PurgeEntities")
            .Describe("Purge entities", "Deletes every entity matching the filters; at least one filter is required (400 otherwise).", QueryParameters.EntityQuery)
            .Returns(StatusCodes.Status204NoContent).Problems(StatusCodes.Status404NotFound);
        api.MapGet("/entities/{entityId}", RetrieveAsync).WithName("RetrieveEntity")
            .Describe("Retrieve entity", "One entity in the requested representation; 404 when unknown or none of attrs is present.", RetrieveParameters)
            .ReturnsBody(geoJson: true).Problems(StatusCodes.Status404NotFound, StatusCodes.Status503ServiceUnavailable);
        api.MapPut("/entities/{entityId}", ReplaceAsync).WithName("ReplaceEntity")
            .Describe("Replace entity", "Replaces every attribute of the entity; createdAt is kept.", NoParameters, jsonBody: true)
            .Returns(StatusCodes.Status204NoContent).Problems(StatusCodes.Status404NotFound, StatusCodes.Status415UnsupportedMediaType);
        api.MapPatch("/entities/{entityId}", MergeAsync).WithName("MergeEntity")
            .Describe("Merge entity", "Deep merge of the fragment (RFC 7396 style); the NGSI-LD Null deletes. Accepts application/merge-patch+json.", OptionsOnly, jsonBody: true, mergePatch: true)
            .Returns(StatusCodes.Status204NoContent).Problems(StatusCodes.Status404NotFound, StatusCodes.Status415UnsupportedMediaType);
        api.MapDelete("/entities/{entityId}", DeleteAsync).WithName("DeleteEntity")
            .Describe("Delete entity", "Deletes the entity.", NoParameters)
            .Returns(StatusCodes.Status204NoContent).Problems(StatusCodes.Status404NotFound);
        api.MapPost("/entities/{entityId}/attrs", AppendAsync).WithName("AppendAttributes")
            .Describe("Append attributes", "Adds or overwrites attributes; with options=noOverwrite existing ones are kept and reported in a 207 UpdateResult.", OptionsOnly, jsonBody: true)
            .Returns(StatusCodes.Status204NoContent).ReturnsJson(StatusCodes.Status207MultiStatus).Problems(StatusCodes.Status404NotFound, StatusCodes.Status415UnsupportedMediaType);
        api.MapPatch("/entities/{entityId}/attrs", UpdateAttributesAsync).WithName("UpdateAttributes")
            .Describe("Update attributes", "Replaces each named attribute that exists; absent ones are reported in a 207 UpdateResult.", OptionsOnly, jsonBody: true)
            .Returns(StatusCodes.Status204NoContent).ReturnsJson(StatusCodes.Status207MultiStatus).Problems(StatusCodes.Status404NotFound, StatusCodes.Status415UnsupportedMediaType);
        api.MapPatch("/entities/{entityId}/attrs/{attrId}", PartialAttributeUpdateAsync).WithName("PartialAttributeUpdate")
            .Describe("Partial attribute update", "Overwrites only the members sent of an existing attribute.", NoParameters, jsonBody: true)
            .Returns(StatusCodes.Status204NoContent).Problems(StatusCodes.Status404NotFound, StatusCodes.Status415UnsupportedMediaType);
        api.MapPut("/entities/{entityId}/attrs/{attrId}", ReplaceAttributeAsync).WithName("ReplaceAttribute")
            .Describe("Replace attribute", "Replaces an existing attribute whole.", NoParameters, jsonBody: true)
            .Returns(StatusCodes.Status204NoContent).Problems(StatusCodes.Status404NotFound, StatusCodes.Status415UnsupportedMediaType);
        api.MapDelete("/entities/{entityId}/attrs/{attrId}", DeleteAttributeAsync).WithName("DeleteAttribute")
            .Describe("Delete attribute", "Deletes the default instance, the instance with datasetId, or all instances with deleteAll=true.", QueryParameters.DeleteAttribute)
            .Returns(StatusCodes.Status204NoContent).Problems(StatusCodes.Status404NotFound);
        return api;
    }

    private static async Task<IResult> CreateAsync(HttpContext http, EntityService service, IContextResolver resolver, IOptions<BrokerOptions> options, CancellationToken ct)
    {
        var request = http.Request;
        QueryParameters.RejectUnknown(request.Query, NoParameters);
        var tenant = NgsiLdRequest.Tenant(request);
        var (body, context) = await NgsiLdRequest.ReadBodyAsync(request, resolver, options.Value, allowMergePatch: false, ct);
        var entity = EntityParser.Parse(EntityObject(body, options.Value), context, PayloadKind.Entity);
        await service.CreateAsync(tenant, entity, ct);
        var id = (string)entity[Names.Id]!;
        // ':' is legal in a path segment; escaping it would make the Location differ from the id clients know.
        return Results.Created("/ngsi-ld/v1/entities/" + Uri.EscapeDataString(id).Replace("%3A", ":", StringComparison.Ordinal), null);
    }

    private static async Task<IResult> RetrieveAsync(string entityId, HttpContext http, EntityService service, IContextResolver resolver, CancellationToken ct)
    {
        var request = http.Request;
        QueryParameters.RejectUnknown(request.Query, RetrieveParameters);
        var format = NgsiLdRequest.Negotiate(request, allowGeoJson: true);
        var tenant = NgsiLdRequest.Tenant(request);
        EntityParser.ValidateEntityId(entityId);
        var context = await NgsiLdRequest.ContextFromLinkAsync(request, resolver, ct);
        var options = QueryParameters.Options(request.Query);
        QueryParameters.CheckOptions(options, "keyValues", "simplified", "concise", "normalized", "sysAttrs");
        var render = QueryParameters.Render(request.Query, options, context);
        var entity = await service.RetrieveAsync(tenant, entityId, ct);
        if (QueryParameters.Single(request.Query, "type") is { } typeFilter
            && !entity[Names.Type]!.AsArray().Any(t => (string?)t == QueryParameters.ExpandName(typeFilter, context)))
        {
            throw NgsiLdException.NotFound($"Entity '{entityId}' is not of type '{typeFilter}'.");
        }

        if (QueryParameters.List(request.Query, "attrs") is { } attrs && !attrs.Any(a => entity.ContainsKey(context.ExpandTerm(a))))
        {
            throw NgsiLdException.NotFound($"Entity '{entityId}' has none of the attributes asked for.");
        }

        JsonNode output = format == ResponseFormat.GeoJson
            ? EntityRenderer.RenderFeature(entity, context, render, QueryParameters.GeometryProperty(request.Query, context))
            : EntityRenderer.Render(entity, context, render);
        return new NgsiLdResponse(output, format, context);
    }

    private static async Task<IResult> QueryAsync(HttpContext http, EntityService service, IContextResolver resolver, IOptions<BrokerOptions> brokerOptions, CancellationToken ct)
    {
        var request = http.Request;
        QueryParameters.RejectUnknown(request.Query, QueryParameters.EntityQuery);
        var format = NgsiLdRequest.Negotiate(request, allowGeoJson: true);
        var tenant = NgsiLdRequest.Tenant(request);
        var context = await NgsiLdRequest.ContextFromLinkAsync(request, resolver, ct);
        var options = QueryParameters.Options(request.Query);
        QueryParameters.CheckOptions(options, "keyValues", "simplified", "concise", "normalized", "sysAttrs", "count");
        var query = QueryParameters.EntityQueryOf(request.Query, context, brokerOptions.Value, requireFilter: QueryParameters.Single(request.Query, "local") != "true");
        var render = QueryParameters.Render(request.Query, options, context);
        var page = await service.QueryAsync(tenant, query, ct);
        return QueryResponse(http, page, query, render, format, context, QueryParameters.GeometryProperty(request.Query, context));
    }

    /// <summary>Renders a page of entities with count and paging headers; shared with POST /entityOperations/query.</summary>
    internal static IResult QueryResponse(HttpContext http, EntityPage page, EntityQuery query, RenderOptions render, ResponseFormat format, LdContext context, string geometryProperty)
    {
        JsonNode output;
        if (format == ResponseFormat.GeoJson)
        {
            output = EntityRenderer.RenderFeatureCollection(page.Entities, context, render, geometryProperty);
        }
        else
        {
            var array = new JsonArray();
            foreach (var entity in page.Entities)
            {
                array.Add(EntityRenderer.Render(entity, context, render));
            }

            output = array;
        }

        var headers = new Dictionary<string, string>(StringComparer.Ordinal);
        if (page.TotalCount is { } total)
        {
            headers["NGSILD-Results-Count"] = total.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        var links = PagingLinks(http.Request, query, page);
        if (links.Length > 0)
        {
            headers["Link"] = links;
        }

        return new NgsiLdResponse(output, format, context) { Headers = headers };
    }

    private static string PagingLinks(HttpRequest request, EntityQuery query, EntityPage page)
    {
        if (!HttpMethods.IsGet(request.Method) || query.Limit == 0)
        {
            return string.Empty;
        }

        var parts = new List<string>(2);
        if (query.Offset > 0)
        {
            parts.Add($"<{PageUrl(request, Math.Max(0, query.Offset - query.Limit), query.Limit)}>; rel=\"prev\"; type=\"application/ld+json\"");
        }

        var hasNext = page.TotalCount is { } total ? query.Offset + page.Entities.Count < total : page.Entities.Count == query.Limit;
        if (hasNext)
        {
            parts.Add($"<{PageUrl(request, query.Offset + query.Limit, query.Limit)}>; rel=\"next\"; type=\"application/ld+json\"");
        }

        return string.Join(", ", parts);
    }

    private static string PageUrl(HttpRequest request, int offset, int limit)
    {
        var query = new List<KeyValuePair<string, string?>>();
        foreach (var (key, values) in request.Query)
        {
            if (key is "offset" or "limit")
            {
                continue;
            }

            foreach (var value in values)
            {
                query.Add(new(key, value));
            }
        }

        query.Add(new("limit", limit.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        query.Add(new("offset", offset.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        return request.Path + Microsoft.AspNetCore.Http.QueryString.Create(query).ToUriComponent();
    }

    private static async Task<IResult> PurgeAsync(HttpContext http, EntityService service, IContextResolver resolver, IOptions<BrokerOptions> brokerOptions, CancellationToken ct)
    {
        var request = http.Request;
        QueryParameters.RejectUnknown(request.Query, QueryParameters.EntityQuery);
        var tenant = NgsiLdRequest.Tenant(request);
        var context = await NgsiLdRequest.ContextFromLinkAsync(request, resolver, ct);
        var query = QueryParameters.EntityQueryOf(request.Query, context, brokerOptions.Value, requireFilter: true);
        await service.PurgeAsync(tenant, query, ct);
        return Results.NoContent();
    }

    private static async Task<IResult> ReplaceAsync(string entityId, HttpContext http, EntityService service, IContextResolver resolver, IOptions<BrokerOptions> options, CancellationToken ct)
    {
        var request = http.Request;
        QueryParameters.RejectUnknown(request.Query, NoParameters);
        var tenant = NgsiLdRequest.Tenant(request);
        EntityParser.ValidateEntityId(entityId);
        var (body, context) = await NgsiLdRequest.ReadBodyAsync(request, resolver, options.Value, allowMergePatch: false, ct);
        var obj = EntityObject(body, options.Value);
        CheckBodyId(obj, entityId);
        obj[Names.Id] = entityId;
        var entity = EntityParser.Parse(obj, context, PayloadKind.Entity);
        await service.ReplaceAsync(tenant, entity, ct);
        return Results.NoContent();
    }

    private static async Task<IResult> MergeAsync(string entityId, HttpContext http, EntityService service, IContextResolver resolver, IOptions<BrokerOptions> options, CancellationToken ct)
    {
        var request = http.Request;
        QueryParameters.RejectUnknown(request.Query, OptionsOnly);
        var tenant = NgsiLdRequest.Tenant(request);
        EntityParser.ValidateEntityId(entityId);
        var words = QueryParameters.Options(request.Query);
        QueryParameters.CheckOptions(words, "keyValues", "simplified", "concise", "normalized");
        var (body, context) = await NgsiLdRequest.ReadBodyAsync(request, resolver, options.Value, allowMergePatch: true, ct);
        var obj = EntityObject(body, options.Value);
        CheckBodyId(obj, entityId);
        var keyValues = words.Contains("keyValues") || words.Contains("simplified");
        var fragment = EntityParser.Parse(obj, context, PayloadKind.Fragment, keyValues);
        await service.MergeAsync(tenant, entityId, fragment, keyValues, ct);
        return Results.NoContent();
    }

    private static async Task<IResult> DeleteAsync(string entityId, HttpContext http, EntityService service, CancellationToken ct)
    {
        var request = http.Request;
        QueryParameters.RejectUnknown(request.Query, NoParameters);
        var tenant = NgsiLdRequest.Tenant(request);
        EntityParser.ValidateEntityId(entityId);
        await service.DeleteAsync(tenant, entityId, ct);
        return Results.NoContent();
    }

    private static async Task<IResult> AppendAsync(string entityId, HttpContext http, EntityService service, IContextResolver resolver, IOptions<BrokerOptions> options, CancellationToken ct)
    {
        var request = http.Request;
        QueryParameters.RejectUnknown(request.Query, OptionsOnly);
        var tenant = NgsiLdRequest.Tenant(request);
        EntityParser.ValidateEntityId(entityId);
        var words = QueryParameters.Options(request.Query);
        QueryParameters.CheckOptions(words, "noOverwrite");
        var (body, context) = await NgsiLdRequest.ReadBodyAsync(request, resolver, options.Value, allowMergePatch: false, ct);
        var obj = EntityObject(body, options.Value);
        CheckBodyId(obj, entityId);
        var fragment = EntityParser.Parse(obj, context, PayloadKind.Fragment);
        var result = await service.AppendAsync(tenant, entityId, fragment, words.Contains("noOverwrite"), ct);
        return UpdateResultResponse(result, context);
    }

    private static async Task<IResult> UpdateAttributesAsync(string entityId, HttpContext http, EntityService service, IContextResolver resolver, IOptions<BrokerOptions> options, CancellationToken ct)
    {
        var request = http.Request;
        QueryParameters.RejectUnknown(request.Query, OptionsOnly);
        var tenant = NgsiLdRequest.Tenant(request);
        EntityParser.ValidateEntityId(entityId);
        var (body, context) = await NgsiLdRequest.ReadBodyAsync(request, resolver, options.Value, allowMergePatch: true, ct);
        var obj = EntityObject(body, options.Value);
        CheckBodyId(obj, entityId);
        var fragment = EntityParser.Parse(obj, context, PayloadKind.Fragment);
        var result = await service.UpdateAttributesAsync(tenant, entityId, fragment, ct);
        return UpdateResultResponse(result, context);
    }

    private static async Task<IResult> PartialAttributeUpdateAsync(string entityId, string attrId, HttpContext http, EntityService service, IContextResolver resolver, IOptions<BrokerOptions> options, CancellationToken ct)
    {
        var request = http.Request;
        QueryParameters.RejectUnknown(request.Query, NoParameters);
        var tenant = NgsiLdRequest.Tenant(request);
        EntityParser.ValidateEntityId(entityId);
        var (body, context) = await NgsiLdRequest.ReadBodyAsync(request, resolver, options.Value, allowMergePatch: true, ct);
        var attribute = QueryParameters.ExpandName(attrId, context);
        var instances = EntityParser.ParseAttribute(attribute, StripContext(AsObject(body)), context, PayloadKind.Fragment);
        await service.PartialAttributeUpdateAsync(tenant, entityId, attribute, instances, ct);
        return Results.NoContent();
    }

    private static async Task<IResult> ReplaceAttributeAsync(string entityId, string attrId, HttpContext http, EntityService service, IContextResolver resolver, IOptions<BrokerOptions> options, CancellationToken ct)
    {
        var request = http.Request;
        QueryParameters.RejectUnknown(request.Query, NoParameters);
        var tenant = NgsiLdRequest.Tenant(request);
        EntityParser.ValidateEntityId(entityId);
        var (body, context) = await NgsiLdRequest.ReadBodyAsync(request, resolver, options.Value, allowMergePatch: false, ct);
        var attribute = QueryParameters.ExpandName(attrId, context);
        var instances = EntityParser.ParseAttribute(attribute, StripContext(AsObject(body)), context, PayloadKind.Entity);
        await service.ReplaceAttributeAsync(tenant, entityId, attribute, instances, ct);
        return Results.NoContent();
    }

    private static async Task<IResult> DeleteAttributeAsync(string entityId, string attrId, HttpContext http, EntityService service, IContextResolver resolver, CancellationToken ct)
    {
        var request = http.Request;
        QueryParameters.RejectUnknown(request.Query, QueryParameters.DeleteAttribute);
        var tenant = NgsiLdRequest.Tenant(request);
        EntityParser.ValidateEntityId(entityId);
        var context = await NgsiLdRequest.ContextFromLinkAsync(request, resolver, ct);
        var (datasetId, deleteAll) = QueryParameters.DeleteAttributeTarget(request.Query, context);
        await service.DeleteAttributeAsync(tenant, entityId, QueryParameters.ExpandName(attrId, context), datasetId, deleteAll, ct);
        return Results.NoContent();
    }

    internal static IResult UpdateResultResponse(UpdateResult result, LdContext context)
    {
        if (result.Complete)
        {
            return Results.NoContent();
        }

        var updated = new JsonArray();
        foreach (var name in result.Updated)
        {
            updated.Add(context.CompactIri(name));
        }

        var notUpdated = new JsonArray();
        foreach (var item in result.NotUpdated)
        {
            notUpdated.Add(new JsonObject { ["attributeName"] = context.CompactIri(item.AttributeName), ["reason"] = item.Reason });
        }

        return new PlainJsonResponse(new JsonObject { ["updated"] = updated, ["notUpdated"] = notUpdated }, StatusCodes.Status207MultiStatus);
    }

    /// <summary>An entity or fragment body: a JSON object with at most MaxAttributesPerEntity attributes, checked before any parsing.</summary>
    internal static JsonObject EntityObject(JsonNode body, BrokerOptions options)
    {
        var obj = AsObject(body);
        CheckAttributeCount(obj, options);
        return obj;
    }

    /// <summary>Fails with BadRequestData when <paramref name="entity"/> has more attributes than the broker accepts.</summary>
    internal static void CheckAttributeCount(JsonObject entity, BrokerOptions options)
    {
        var members = entity.Count;
        foreach (var core in CoreMembers)
        {
            if (entity.ContainsKey(core))
            {
                members--;
            }
        }

        if (members > options.MaxAttributesPerEntity)
        {
            throw NgsiLdException.BadRequest($"The entity has {members} attributes; the limit is {options.MaxAttributesPerEntity} (CityOS:Broker:MaxAttributesPerEntity).");
        }
    }

    internal static JsonObject AsObject(JsonNode body) =>
        body as JsonObject ?? throw NgsiLdException.BadRequest("The body must be a JSON object.");

    private static JsonNode StripContext(JsonNode body)
    {
        if (body is JsonObject o)
        {
            o.Remove("@context");
        }

        return body;
    }

    private static void CheckBodyId(JsonObject body, string entityId)
    {
        if (body[Names.Id] is { } id && (id is not JsonValue v || !v.TryGetValue<string>(out var s) || s != entityId))
        {
            throw NgsiLdException.BadRequest("The id in the body does not match the id in the URL.");
        }
    }
}
