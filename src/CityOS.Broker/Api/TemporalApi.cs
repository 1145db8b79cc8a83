using System.Globalization;
using System.Text.Json.Nodes;
using CityOS.Broker.Storage;
using CityOS.Broker.Temporal;
using CityOS.NgsiLd.Errors;
using CityOS.NgsiLd.JsonLd;
using CityOS.NgsiLd.Model;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;

namespace CityOS.Broker.Api;

/// <summary>The NGSI-LD temporal endpoints (§6.18–§6.24): history reads, aggregation and provision under /temporal.</summary>
internal static class TemporalApi
{
    private static readonly string[] TemporalWords = ["timerel", "timeAt", "endTimeAt", "timeproperty", "lastN", "aggrMethods", "aggrPeriodDuration"];

    private static readonly HashSet<string> RetrieveParameters = new(
        ["attrs", "options", "format", "datasetId", "type", "local", .. TemporalWords], StringComparer.Ordinal);

    private static readonly HashSet<string> QueryParametersAllowed = new(
        [
            "id", "idPattern", "type", "attrs", "q", "scopeQ", "georel", "geometry", "coordinates", "geoproperty",
            "limit", "offset", "count", "options", "format", "datasetId", "local", .. TemporalWords,
        ],
        StringComparer.Ordinal);

    private static readonly HashSet<string> PostQueryParameters = new(StringComparer.Ordinal)
    {
        "limit", "offset", "count", "options", "format", "datasetId", "local", "lastN", "aggrMethods", "aggrPeriodDuration",
    };

    private static readonly HashSet<string> NoParameters = new(StringComparer.Ordinal) { "local" };

    public static RouteGroupBuilder MapTemporalApi(this RouteGroupBuilder api)
    {
        api.MapGet("/temporal/entities", QueryAsync).WithName("QueryTemporalEntities")
            .Describe("Query temporal evolution of entities", "The history of the entities matching id/idPattern/type/attrs/q/scopeQ/geo-query now, inside the timerel window (mandatory), paged by limit/offset; instances beyond the per-attribute limit are cut with 206 and Content-Range.", QueryParametersAllowed)
            .ReturnsBody().Returns(StatusCodes.Status206PartialContent).Problems(StatusCodes.Status403Forbidden, StatusCodes.Status404NotFound);
        api.MapPost("/temporal/entities", UpsertAsync).WithName("CreateOrUpdateTemporalEntity")
            .Describe("Create or update temporal entity", "Adds the instances of a temporal entity (normalized instances or the temporalValues form); a new entity is created from the latest instances (201), an existing one gets the instances added to its history (204).", NoParameters, jsonBody: true)
            .Returns(StatusCodes.Status201Created, StatusCodes.Status204NoContent).Problems(StatusCodes.Status415UnsupportedMediaType);
        api.MapGet("/temporal/entities/{entityId}", RetrieveAsync).WithName("RetrieveTemporalEntity")
            .Describe("Retrieve temporal evolution of an entity", "The entity's history (also after it was deleted), optionally inside a timerel window, lastN, as temporalValues or aggregatedValues.", RetrieveParameters)
            .ReturnsBody().Returns(StatusCodes.Status206PartialContent).Problems(StatusCodes.Status404NotFound);
        api.MapDelete("/temporal/entities/{entityId}", DeleteEntityAsync).WithName("DeleteTemporalEntity")
            .Describe("Delete temporal entity", "Deletes the entity's whole history (the current entity stays).", NoParameters)
            .Returns(StatusCodes.Status204NoContent).Problems(StatusCodes.Status404NotFound);
        api.MapPost("/temporal/entities/{entityId}/attrs", AppendAsync).WithName("AddTemporalAttributes")
            .Describe("Add temporal attribute instances", "Adds attribute instances to the entity's history (back-filling).", NoParameters, jsonBody: true)
            .Returns(StatusCodes.Status204NoContent).Problems(StatusCodes.Status404NotFound, StatusCodes.Status415UnsupportedMediaType);
        api.MapDelete("/temporal/entities/{entityId}/attrs/{attrId}", DeleteAttributeAsync).WithName("DeleteTemporalAttribute")
            .Describe("Delete temporal attribute", "Deletes the history of the attribute's default instance, of one datasetId, or with deleteAll=true all of it.", QueryParameters.DeleteAttribute)
            .Returns(StatusCodes.Status204NoContent).Problems(StatusCodes.Status404NotFound);
        api.MapPatch("/temporal/entities/{entityId}/attrs/{attrId}/{instanceId}", ModifyInstanceAsync).WithName("ModifyTemporalAttributeInstance")
            .Describe("Modify attribute instance", "Overwrites the members sent of one stored instance.", NoParameters, jsonBody: true)
            .Returns(StatusCodes.Status204NoContent).Problems(StatusCodes.Status404NotFound, StatusCodes.Status415UnsupportedMediaType);
        api.MapDelete("/temporal/entities/{entityId}/attrs/{attrId}/{instanceId}", DeleteInstanceAsync).WithName("DeleteTemporalAttributeInstance")
            .Describe("Delete attribute instance", "Deletes one stored instance.", NoParameters)
            .Returns(StatusCodes.Status204NoContent).Problems(StatusCodes.Status404NotFound);
        api.MapPost("/temporal/entityOperations/query", PostQueryAsync).WithName("QueryTemporalEntitiesPost")
            .Describe("Query temporal evolution of entities (POST)", "A {\"type\": \"Query\"} body with entities, attrs, q, geoQ, scopeQ and temporalQ (timerel, timeAt, endTimeAt, timeproperty, lastN); paging and representation in the URL.", PostQueryParameters, jsonBody: true)
            .ReturnsBody().Returns(StatusCodes.Status206PartialContent).Problems(StatusCodes.Status403Forbidden, StatusCodes.Status404NotFound);
        return api;
    }

    private static async Task<IResult> RetrieveAsync(string entityId, HttpContext http, TemporalService service, IContextResolver resolver, CancellationToken ct)
    {
        var request = http.Request;
        QueryParameters.RejectUnknown(request.Query, RetrieveParameters);
        var format = NgsiLdRequest.Negotiate(request, allowGeoJson: false);
        var tenant = NgsiLdRequest.Tenant(request);
        EntityParser.ValidateEntityId(entityId);
        var context = await NgsiLdRequest.ContextFromLinkAsync(request, resolver, ct);
        var temporal = TemporalRequestOf(request.Query, context, requireTimerel: false);
        var result = await service.RetrieveAsync(tenant, entityId, temporal, ct);
        var entity = result.Entities[0];
        if (QueryParameters.Single(request.Query, "type") is { } typeFilter && !entity.Types.Contains(QueryParameters.ExpandName(typeFilter, context)))
        {
            throw NgsiLdException.NotFound($"Entity '{entityId}' is not of type '{typeFilter}'.");
        }

        return Respond(TemporalRenderer.Render(entity, temporal, context), result, format, context, null);
    }

    private static async Task<IResult> QueryAsync(HttpContext http, TemporalService service, IContextResolver resolver, IOptions<BrokerOptions> brokerOptions, CancellationToken ct)
    {
        var request = http.Request;
        QueryParameters.RejectUnknown(request.Query, QueryParametersAllowed);
        var format = NgsiLdRequest.Negotiate(request, allowGeoJson: false);
        var tenant = NgsiLdRequest.Tenant(request);
        var context = await NgsiLdRequest.ContextFromLinkAsync(request, resolver, ct);
        var temporal = TemporalRequestOf(request.Query, context, requireTimerel: true);
        var query = QueryParameters.EntityQueryOf(request.Query, context, brokerOptions.Value, requireFilter: QueryParameters.Single(request.Query, "local") != "true");
        if (QueryParameters.Options(request.Query).Contains("count"))
        {
            query = query with { Count = true };
        }

        var result = await service.QueryAsync(tenant, query, temporal, ct);
        return QueryResponse(http, query, temporal, result, format, context);
    }

    private static async Task<IResult> PostQueryAsync(HttpContext http, TemporalService service, IContextResolver resolver, IOptions<BrokerOptions> options, CancellationToken ct)
    {
        var request = http.Request;
        QueryParameters.RejectUnknown(request.Query, PostQueryParameters);
        var format = NgsiLdRequest.Negotiate(request, allowGeoJson: false);
        var tenant = NgsiLdRequest.Tenant(request);
        var (body, context) = await NgsiLdRequest.ReadBodyAsync(request, resolver, options.Value, allowMergePatch: false, ct);
        var obj = EntitiesApi.AsObject(body);
        var query = QueryParameters.EntityQueryOf(obj, context, QueryParameters.Paging(request.Query, options.Value));
        if (QueryParameters.Options(request.Query).Contains("count"))
        {
            query = query with { Count = true };
        }

        var temporalQ = obj["temporalQ"] as JsonObject ?? throw NgsiLdException.BadRequest("A temporal query body needs temporalQ (timerel, timeAt, endTimeAt, timeproperty).");
        var lastN = QueryParameters.Single(request.Query, "lastN") ?? Text(temporalQ, "lastN");
        var temporal = TemporalRequestOf(
            request.Query,
            context,
            requireTimerel: true,
            (Text(temporalQ, "timerel"), Text(temporalQ, "timeAt"), Text(temporalQ, "endTimeAt"), Text(temporalQ, "timeproperty"), lastN),
            query.Attrs);
        var result = await service.QueryAsync(tenant, query, temporal, ct);
        return QueryResponse(http, query, temporal, result, format, context);
    }

    private static NgsiLdResponse QueryResponse(HttpContext http, EntityQuery query, TemporalRequest temporal, TemporalResult result, ResponseFormat format, LdContext context)
    {
        var array = new JsonArray();
        foreach (var entity in result.Entities)
        {
            array.Add(TemporalRenderer.Render(entity, temporal, context));
        }

        var headers = new Dictionary<string, string>(StringComparer.Ordinal);
        if (result.TotalCount is { } total)
        {
            headers["NGSILD-Results-Count"] = total.ToString(CultureInfo.InvariantCulture);
        }

        if (HttpMethods.IsGet(http.Request.Method) && query.Limit > 0
            && (result.TotalCount is { } all ? query.Offset + result.Entities.Count < all : result.Entities.Count == query.Limit))
        {
            headers["Link"] = $"<{NextPage(http.Request, query)}>; rel=\"next\"; type=\"application/ld+json\"";
        }

        return Respond(array, result, format, context, headers);
    }

    private static NgsiLdResponse Respond(JsonNode output, TemporalResult result, ResponseFormat format, LdContext context, Dictionary<string, string>? headers)
    {
        if (result.Range is not { } range)
        {
            return new NgsiLdResponse(output, format, context) { Headers = headers };
        }

        headers ??= new Dictionary<string, string>(StringComparer.Ordinal);
        var size = range.Size is { } n ? n.ToString(CultureInfo.InvariantCulture) : "*";
        headers["Content-Range"] = $"date-time {TemporalTime.Format(range.Start)}-{TemporalTime.Format(range.End)}/{size}";
        return new NgsiLdResponse(output, format, context, StatusCodes.Status206PartialContent) { Headers = headers };
    }

    private static string NextPage(HttpRequest request, EntityQuery query)
    {
        var parameters = new List<KeyValuePair<string, string?>>();
        foreach (var (key, values) in request.Query)
        {
            if (key is not ("offset" or "limit"))
            {
                parameters.AddRange(values.Select(v => new KeyValuePair<string, string?>(key, v)));
            }
        }

        parameters.Add(new("limit", query.Limit.ToString(CultureInfo.InvariantCulture)));
        parameters.Add(new("offset", (query.Offset + query.Limit).ToString(CultureInfo.InvariantCulture)));
        return request.Path + QueryString.Create(parameters).ToUriComponent();
    }

    /// <summary>The temporal request of a read: window, lastN, attrs, representation and aggregation, all validated.</summary>
    private static TemporalRequest TemporalRequestOf(
        IQueryCollection query,
        LdContext context,
        bool requireTimerel,
        (string? Timerel, string? TimeAt, string? EndTimeAt, string? TimeProperty, string? LastN)? fromBody = null,
        IReadOnlyList<string>? bodyAttrs = null)
    {
        var (timerel, timeAt, endTimeAt, timeproperty, lastN) = fromBody ?? (
            QueryParameters.Single(query, "timerel"),
            QueryParameters.Single(query, "timeAt"),
            QueryParameters.Single(query, "endTimeAt"),
            QueryParameters.Single(query, "timeproperty"),
            QueryParameters.Single(query, "lastN"));
        if (requireTimerel && timerel is null)
        {
            throw NgsiLdException.BadRequest("A temporal query needs timerel (before, after or between) and timeAt.");
        }

        var options = QueryParameters.Options(query);
        QueryParameters.CheckOptions(options, "temporalValues", "aggregatedValues", "sysAttrs", "normalized", "simplified", "keyValues", "count");
        var format = FormatOf(QueryParameters.Single(query, "format"), options);
        var aggregated = format == TemporalFormat.Aggregated;
        var methodsText = QueryParameters.Single(query, "aggrMethods");
        var periodText = QueryParameters.Single(query, "aggrPeriodDuration");
        if (!aggregated && (methodsText is not null || periodText is not null))
        {
            throw NgsiLdException.BadRequest("aggrMethods and aggrPeriodDuration need options=aggregatedValues.");
        }

        var attrs = bodyAttrs ?? QueryParameters.List(query, "attrs")?.Select(a => QueryParameters.ExpandName(a, context)).ToArray();
        var datasetIds = QueryParameters.List(query, "datasetId");
        return new TemporalRequest
        {
            Window = TemporalParameters.Window(timerel, timeAt, endTimeAt, timeproperty),
            HasTimerel = timerel is not null,
            LastN = TemporalParameters.LastN(lastN),
            Attrs = attrs is null ? null : new HashSet<string>(attrs, StringComparer.Ordinal),
            DatasetIds = datasetIds is null ? null : new HashSet<string>(datasetIds.Select(d => d == "@none" ? d : QueryParameters.ExpandDatasetId(d, context)), StringComparer.Ordinal),
            Format = format,
            SysAttrs = options.Contains("sysAttrs"),
            AggregationMethods = aggregated ? TemporalParameters.AggregationMethods(methodsText) : [],
            AggregationPeriod = aggregated ? TemporalParameters.Duration(periodText) : 0,
        };
    }

    private static TemporalFormat FormatOf(string? format, HashSet<string> options)
    {
        static TemporalFormat? Of(string word) => word switch
        {
            "normalized" => TemporalFormat.Normalized,
            "temporalValues" or "simplified" or "keyValues" => TemporalFormat.TemporalValues,
            "aggregatedValues" => TemporalFormat.Aggregated,
            _ => null,
        };

        if (format is not null)
        {
            return Of(format) ?? throw NgsiLdException.BadRequest($"format '{format}' is not one of normalized, temporalValues, aggregatedValues.");
        }

        TemporalFormat? chosen = null;
        foreach (var word in options)
        {
            if (Of(word) is { } f)
            {
                if (chosen is not null && chosen != f)
                {
                    throw NgsiLdException.BadRequest("options holds more than one representation.");
                }

                chosen = f;
            }
        }

        return chosen ?? TemporalFormat.Normalized;
    }

    private static async Task<IResult> UpsertAsync(HttpContext http, TemporalService service, IContextResolver resolver, IOptions<BrokerOptions> options, CancellationToken ct)
    {
        var request = http.Request;
        QueryParameters.RejectUnknown(request.Query, NoParameters);
        var tenant = NgsiLdRequest.Tenant(request);
        var (body, context) = await NgsiLdRequest.ReadBodyAsync(request, resolver, options.Value, allowMergePatch: false, ct);
        var obj = EntitiesApi.EntityObject(body, options.Value);
        var (entity, instances) = TemporalPayload.Parse(obj, context, requireType: true);
        var id = (string)entity[Names.Id]!;
        if (await service.UpsertAsync(tenant, entity, instances, ct))
        {
            return Results.Created("/ngsi-ld/v1/temporal/entities/" + Uri.EscapeDataString(id).Replace("%3A", ":", StringComparison.Ordinal), null);
        }

        return Results.NoContent();
    }

    private static async Task<IResult> AppendAsync(string entityId, HttpContext http, TemporalService service, IContextResolver resolver, IOptions<BrokerOptions> options, CancellationToken ct)
    {
        var request = http.Request;
        QueryParameters.RejectUnknown(request.Query, NoParameters);
        var tenant = NgsiLdRequest.Tenant(request);
        EntityParser.ValidateEntityId(entityId);
        var (body, context) = await NgsiLdRequest.ReadBodyAsync(request, resolver, options.Value, allowMergePatch: false, ct);
        var obj = EntitiesApi.EntityObject(body, options.Value);
        if (obj[Names.Id] is { } id && (string?)id != entityId)
        {
            throw NgsiLdException.BadRequest("The id in the body does not match the id in the URL.");
        }

        obj[Names.Id] = entityId;
        var (_, instances) = TemporalPayload.Parse(obj, context, requireType: false);
        await service.AppendAsync(tenant, entityId, instances, ct);
        return Results.NoContent();
    }

    private static async Task<IResult> ModifyInstanceAsync(string entityId, string attrId, string instanceId, HttpContext http, TemporalService service, IContextResolver resolver, IOptions<BrokerOptions> options, CancellationToken ct)
    {
        var request = http.Request;
        QueryParameters.RejectUnknown(request.Query, NoParameters);
        var tenant = NgsiLdRequest.Tenant(request);
        EntityParser.ValidateEntityId(entityId);
        var (body, context) = await NgsiLdRequest.ReadBodyAsync(request, resolver, options.Value, allowMergePatch: false, ct);
        var attribute = QueryParameters.ExpandName(attrId, context);
        var fragment = TemporalPayload.ParseFragment(attribute, EntitiesApi.AsObject(body), context);
        await service.ModifyInstanceAsync(tenant, entityId, attribute, InstanceIdOf(instanceId), fragment, ct);
        return Results.NoContent();
    }

    private static async Task<IResult> DeleteInstanceAsync(string entityId, string attrId, string instanceId, HttpContext http, TemporalService service, IContextResolver resolver, CancellationToken ct)
    {
        var request = http.Request;
        QueryParameters.RejectUnknown(request.Query, NoParameters);
        var tenant = NgsiLdRequest.Tenant(request);
        EntityParser.ValidateEntityId(entityId);
        var context = await NgsiLdRequest.ContextFromLinkAsync(request, resolver, ct);
        await service.DeleteInstanceAsync(tenant, entityId, QueryParameters.ExpandName(attrId, context), InstanceIdOf(instanceId), ct);
        return Results.NoContent();
    }

    private static async Task<IResult> DeleteAttributeAsync(string entityId, string attrId, HttpContext http, TemporalService service, IContextResolver resolver, CancellationToken ct)
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

    private static async Task<IResult> DeleteEntityAsync(string entityId, HttpContext http, TemporalService service, CancellationToken ct)
    {
        var request = http.Request;
        QueryParameters.RejectUnknown(request.Query, NoParameters);
        var tenant = NgsiLdRequest.Tenant(request);
        EntityParser.ValidateEntityId(entityId);
        await service.DeleteEntityAsync(tenant, entityId, ct);
        return Results.NoContent();
    }

    private static long InstanceIdOf(string text) =>
        TemporalIds.Parse(text) ?? throw NgsiLdException.NotFound($"'{(text.Length <= 80 ? text : text[..80] + "…")}' is not an instanceId of this broker.");

    private static string? Text(JsonObject obj, string name) => obj[name] switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out string? s) => s,
        JsonValue v when v.TryGetValue(out long n) => n.ToString(CultureInfo.InvariantCulture),
        _ => throw NgsiLdException.BadRequest($"temporalQ.{name} must be a string."),
    };
}
