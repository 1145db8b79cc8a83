using System.Text.Json.Nodes;
using CityOS.NgsiLd.Errors;
using CityOS.NgsiLd.JsonLd;
using CityOS.NgsiLd.Model;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;

namespace CityOS.Broker.Api;

/// <summary>The batch operations (§6.14–§6.31): /entityOperations/create|upsert|update|delete|merge|query.</summary>
internal static class BatchApi
{
    private static readonly HashSet<string> OptionsOnly = new(StringComparer.Ordinal) { "options", "local" };
    private static readonly HashSet<string> QueryUrlParameters = new(StringComparer.Ordinal) { "limit", "offset", "count", "options", "format", "local", "geometryProperty" };

    public static RouteGroupBuilder MapBatchApi(this RouteGroupBuilder api)
    {
        api.MapPost("/entityOperations/create", CreateAsync).WithName("BatchCreate")
            .Describe("Batch create", "Creates every entity of the array; 201 with the created ids, 207 BatchOperationResult if any failed.", OptionsOnly, jsonBody: true)
            .ReturnsJson(StatusCodes.Status201Created, StatusCodes.Status207MultiStatus).Problems(StatusCodes.Status413PayloadTooLarge, StatusCodes.Status415UnsupportedMediaType);
        api.MapPost("/entityOperations/upsert", UpsertAsync).WithName("BatchUpsert")
            .Describe("Batch upsert", "Creates or replaces (options=replace, default) or updates (options=update) each entity, in array order; 201 with the newly created ids, 204 if all existed, 207 on any failure.", OptionsOnly, jsonBody: true)
            .ReturnsJson(StatusCodes.Status201Created, StatusCodes.Status207MultiStatus).Returns(StatusCodes.Status204NoContent).Problems(StatusCodes.Status413PayloadTooLarge, StatusCodes.Status415UnsupportedMediaType);
        api.MapPost("/entityOperations/update", UpdateAsync).WithName("BatchUpdate")
            .Describe("Batch update", "Replaces each sent attribute of existing entities (options=noOverwrite keeps existing ones); 207 on any failure.", OptionsOnly, jsonBody: true)
            .Returns(StatusCodes.Status204NoContent).ReturnsJson(StatusCodes.Status207MultiStatus).Problems(StatusCodes.Status413PayloadTooLarge, StatusCodes.Status415UnsupportedMediaType);
        api.MapPost("/entityOperations/merge", MergeAsync).WithName("BatchMerge")
            .Describe("Batch merge", "Deep-merges each fragment into its existing entity; 207 on any failure.", OptionsOnly, jsonBody: true)
            .Returns(StatusCodes.Status204NoContent).ReturnsJson(StatusCodes.Status207MultiStatus).Problems(StatusCodes.Status413PayloadTooLarge, StatusCodes.Status415UnsupportedMediaType);
        api.MapPost("/entityOperations/delete", DeleteAsync).WithName("BatchDelete")
            .Describe("Batch delete", "Deletes the entities whose ids are listed; unknown ids are reported in a 207.", OptionsOnly, jsonBody: true)
            .Returns(StatusCodes.Status204NoContent).ReturnsJson(StatusCodes.Status207MultiStatus).Problems(StatusCodes.Status415UnsupportedMediaType);
        api.MapPost("/entityOperations/query", QueryAsync).WithName("QueryEntitiesPost")
            .Describe("Query entities (POST)", "Query Entities with a {\"type\": \"Query\"} body (entities, attrs, q, geoQ, scopeQ, lang); paging and representation in the URL.", QueryUrlParameters, jsonBody: true)
            .ReturnsBody(geoJson: true).Problems(StatusCodes.Status403Forbidden, StatusCodes.Status404NotFound, StatusCodes.Status415UnsupportedMediaType);
        return api;
    }

    private static async Task<IResult> CreateAsync(HttpContext http, EntityService service, IContextResolver resolver, IOptions<BrokerOptions> options, CancellationToken ct)
    {
        QueryParameters.RejectUnknown(http.Request.Query, OptionsOnly);
        QueryParameters.CheckOptions(QueryParameters.Options(http.Request.Query));
        var (tenant, items) = await ReadEntitiesAsync(http, resolver, options.Value, PayloadKind.Entity, ct);
        var result = await service.BatchCreateAsync(tenant, items, ct);
        if (result.Errors.Count == 0)
        {
            return new PlainJsonResponse(Ids(result.Success), StatusCodes.Status201Created);
        }

        return Multi(result);
    }

    private static async Task<IResult> UpsertAsync(HttpContext http, EntityService service, IContextResolver resolver, IOptions<BrokerOptions> options, CancellationToken ct)
    {
        QueryParameters.RejectUnknown(http.Request.Query, OptionsOnly);
        var words = QueryParameters.Options(http.Request.Query);
        QueryParameters.CheckOptions(words, "replace", "update");
        if (words.Contains("replace") && words.Contains("update"))
        {
            throw NgsiLdException.BadRequest("options=replace and options=update cannot be used together.");
        }

        var (tenant, items) = await ReadEntitiesAsync(http, resolver, options.Value, PayloadKind.Entity, ct);
        var result = await service.BatchUpsertAsync(tenant, items, updateMode: words.Contains("update"), ct);
        if (result.Errors.Count > 0)
        {
            return Multi(result);
        }

        return result.Created.Count > 0 ? new PlainJsonResponse(Ids(result.Created), StatusCodes.Status201Created) : Results.NoContent();
    }

    private static async Task<IResult> UpdateAsync(HttpContext http, EntityService service, IContextResolver resolver, IOptions<BrokerOptions> options, CancellationToken ct)
    {
        QueryParameters.RejectUnknown(http.Request.Query, OptionsOnly);
        var words = QueryParameters.Options(http.Request.Query);
        QueryParameters.CheckOptions(words, "noOverwrite");
        var (tenant, items) = await ReadEntitiesAsync(http, resolver, options.Value, PayloadKind.Fragment, ct);
        var result = await service.BatchUpdateAsync(tenant, items, words.Contains("noOverwrite"), ct);
        return result.Errors.Count > 0 ? Multi(result) : Results.NoContent();
    }

    private static async Task<IResult> MergeAsync(HttpContext http, EntityService service, IContextResolver resolver, IOptions<BrokerOptions> options, CancellationToken ct)
    {
        QueryParameters.RejectUnknown(http.Request.Query, OptionsOnly);
        QueryParameters.CheckOptions(QueryParameters.Options(http.Request.Query));
        var (tenant, items) = await ReadEntitiesAsync(http, resolver, options.Value, PayloadKind.Fragment, ct);
        var result = await service.BatchMergeAsync(tenant, items, ct);
        return result.Errors.Count > 0 ? Multi(result) : Results.NoContent();
    }

    private static async Task<IResult> DeleteAsync(HttpContext http, EntityService service, IContextResolver resolver, IOptions<BrokerOptions> options, CancellationToken ct)
    {
        var request = http.Request;
        QueryParameters.RejectUnknown(request.Query, OptionsOnly);
        var tenant = NgsiLdRequest.Tenant(request);
        var (body, _) = await NgsiLdRequest.ReadBodyAsync(request, resolver, options.Value, allowMergePatch: false, ct);
        if (body is not JsonArray array)
        {
            throw NgsiLdException.BadRequest("The body must be a JSON array of entity ids.");
        }

        CheckSize(array, options.Value);
        var ids = new List<BatchItem>(array.Count);
        foreach (var node in array)
        {
            if (node is JsonValue v && v.TryGetValue<string>(out var id))
            {
                try
                {
                    EntityParser.ValidateEntityId(id);
                    ids.Add(new BatchItem(id, null, null));
                }
                catch (NgsiLdException e)
                {
                    ids.Add(new BatchItem(id, null, e));
                }
            }
            else
            {
                throw NgsiLdException.BadRequest("The body must be a JSON array of entity id strings.");
            }
        }

        var result = await service.BatchDeleteAsync(tenant, ids, ct);
        return result.Errors.Count > 0 ? Multi(result) : Results.NoContent();
    }

    private static async Task<IResult> QueryAsync(HttpContext http, EntityService service, IContextResolver resolver, IOptions<BrokerOptions> options, CancellationToken ct)
    {
        var request = http.Request;
        QueryParameters.RejectUnknown(request.Query, QueryUrlParameters);
        var format = NgsiLdRequest.Negotiate(request, allowGeoJson: true);
        var tenant = NgsiLdRequest.Tenant(request);
        var words = QueryParameters.Options(request.Query);
        QueryParameters.CheckOptions(words, "keyValues", "simplified", "concise", "normalized", "sysAttrs", "count");
        var (body, context) = await NgsiLdRequest.ReadBodyAsync(request, resolver, options.Value, allowMergePatch: false, ct);
        var obj = EntitiesApi.AsObject(body);
        var paging = QueryParameters.Paging(request.Query, options.Value);
        var query = QueryParameters.EntityQueryOf(obj, context, paging);
        var render = QueryParameters.Render(request.Query, words, context);
        if (obj["lang"] is JsonValue lang && lang.TryGetValue<string>(out var langValue))
        {
            render = render with { Lang = langValue };
        }

        if (query.Attrs is { Count: > 0 } attrs)
        {
            var pick = new HashSet<string>(attrs, StringComparer.Ordinal) { Names.Id, Names.Type, Names.Scope };
            render = render with { Pick = pick };
        }

        var page = await service.QueryAsync(tenant, query, ct);
        return EntitiesApi.QueryResponse(http, page, query, render, format, context, QueryParameters.GeometryProperty(request.Query, context));
    }

    /// <summary>Reads a batch body: an array of entities, each parsed on its own so one bad entity fails alone.</summary>
    private static async Task<(string Tenant, List<BatchItem> Items)> ReadEntitiesAsync(HttpContext http, IContextResolver resolver, BrokerOptions options, PayloadKind kind, CancellationToken ct)
    {
        var request = http.Request;
        var tenant = NgsiLdRequest.Tenant(request);
        var isLd = request.ContentType?.StartsWith("application/ld+json", StringComparison.OrdinalIgnoreCase) == true;
        var (body, context) = await NgsiLdRequest.ReadBodyAsync(request, resolver, options, allowMergePatch: false, ct);
        if (body is not JsonArray array)
        {
            throw NgsiLdException.BadRequest("The body must be a JSON array of entities.");
        }

        CheckSize(array, options);
        var items = new List<BatchItem>(array.Count);
        foreach (var node in array)
        {
            var id = node is JsonObject o && o[Names.Id] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
            if (node is not JsonObject entity)
            {
                items.Add(new BatchItem(null, null, NgsiLdException.BadRequest("A batch entry is not a JSON object.")));
                continue;
            }

            try
            {
                // ld+json batches may carry a different @context per entity.
                var entityContext = isLd && entity["@context"] is { } own ? await resolver.ResolveAsync(own, ct) : context;
                if (id is null)
                {
                    throw NgsiLdException.BadRequest("A batch entry has no id.");
                }

                EntityParser.ValidateEntityId(id);
                EntitiesApi.CheckAttributeCount(entity, options);
                items.Add(new BatchItem(id, EntityParser.Parse(entity, entityContext, kind), null));
            }
            catch (NgsiLdException e)
            {
                items.Add(new BatchItem(id, null, e));
            }
        }

        return (tenant, items);
    }

    private static void CheckSize(JsonArray array, BrokerOptions options)
    {
        if (array.Count == 0)
        {
            throw NgsiLdException.BadRequest("The batch is empty.");
        }

        if (array.Count > options.MaxBatchSize)
        {
            throw NgsiLdException.BadRequest($"A batch holds at most {options.MaxBatchSize} entries; this one holds {array.Count}.");
        }
    }

    private static JsonArray Ids(List<string> ids)
    {
        var array = new JsonArray();
        foreach (var id in ids)
        {
            array.Add(id);
        }

        return array;
    }

    private static PlainJsonResponse Multi(BatchResult result)
    {
        var errors = new JsonArray();
        foreach (var (entityId, error) in result.Errors)
        {
            errors.Add(new JsonObject
            {
                ["entityId"] = entityId,
                ["error"] = new JsonObject
                {
                    ["type"] = ErrorTypes.Uri(error.Type),
                    ["title"] = ErrorTypes.Title(error.Type),
                    ["status"] = error.Status,
                    ["detail"] = error.Message,
                },
            });
        }

        return new PlainJsonResponse(new JsonObject { ["success"] = Ids(result.Success), ["errors"] = errors }, StatusCodes.Status207MultiStatus);
    }
}
