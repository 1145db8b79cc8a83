using System.Text.Json.Nodes;
using CityOS.NgsiLd.Errors;
using CityOS.NgsiLd.JsonLd;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;

namespace CityOS.Broker.Api;

/// <summary>/jsonldContexts (§5.13, §6.30): hosted @context documents, so an air-gapped city can preload its contexts.</summary>
internal static class ContextsApi
{
    public static RouteGroupBuilder MapContextsApi(this RouteGroupBuilder api)
    {
        api.MapPost("/jsonldContexts", AddAsync).WithName("AddContext")
            .Describe("Add @context", "Hosts a @context document ({\"@context\": …}); 201 with its Location.", jsonBody: true)
            .Returns(StatusCodes.Status201Created).Problems(StatusCodes.Status415UnsupportedMediaType);
        api.MapGet("/jsonldContexts", List).WithName("ListContexts")
            .Describe("List @contexts", "URLs of the hosted and cached @contexts; details=true gives {URL, localId, kind, createdAt, …}.", ["details", "kind"])
            .ReturnsJson(StatusCodes.Status200OK).Problems(StatusCodes.Status406NotAcceptable);
        api.MapGet("/jsonldContexts/{contextId}", Get).WithName("ServeContext")
            .Describe("Serve @context", "The hosted @context document (application/ld+json), or its details with details=true; 422 for a Cached one without details.", ["details"])
            .Produces<System.Text.Json.Nodes.JsonNode>(StatusCodes.Status200OK, "application/ld+json", "application/json")
            .Problems(StatusCodes.Status404NotFound, StatusCodes.Status406NotAcceptable, StatusCodes.Status422UnprocessableEntity);
        api.MapDelete("/jsonldContexts/{contextId}", DeleteAsync).WithName("DeleteContext")
            .Describe("Delete or reload @context", "Deletes the entry; reload=true re-downloads a Cached one (400 for Hosted).", ["reload"])
            .Returns(StatusCodes.Status204NoContent).Problems(StatusCodes.Status404NotFound, StatusCodes.Status503ServiceUnavailable);
        return api;
    }

    private static async Task<IResult> AddAsync(HttpContext http, ContextRegistry registry, IOptions<BrokerOptions> options, CancellationToken ct)
    {
        var request = http.Request;
        QueryParameters.RejectUnknown(request.Query, new HashSet<string>(StringComparer.Ordinal));
        var contentType = request.ContentType ?? string.Empty;
        if (!contentType.StartsWith("application/json", StringComparison.OrdinalIgnoreCase)
            && !contentType.StartsWith("application/ld+json", StringComparison.OrdinalIgnoreCase))
        {
            throw new NgsiLdException(ErrorType.UnsupportedMediaType, "A @context document must be sent as application/json or application/ld+json.");
        }

        var body = await NgsiLdRequest.ParseJsonAsync(request, options.Value, ct);
        var entry = await registry.AddHostedAsync(body, ct);
        return Results.Created(entry.Url, null);
    }

    private static PlainJsonResponse List(HttpContext http, ContextRegistry registry)
    {
        var request = http.Request;
        QueryParameters.RejectUnknown(request.Query, new HashSet<string>(StringComparer.Ordinal) { "details", "kind" });
        NgsiLdRequest.Negotiate(request, allowGeoJson: false);
        var details = Bool(request, "details");
        ContextKind? kind = null;
        if (QueryParameters.Single(request.Query, "kind") is { } kindText)
        {
            kind = ContextRegistry.TryParseKind(kindText, out var parsed)
                ? parsed
                : throw NgsiLdException.BadRequest($"kind must be Hosted, Cached or ImplicitlyCreated, not '{kindText}'.");
        }

        return new PlainJsonResponse(registry.ListJson(kind, details), StatusCodes.Status200OK);
    }

    private static IResult Get(string contextId, HttpContext http, ContextRegistry registry)
    {
        var request = http.Request;
        QueryParameters.RejectUnknown(request.Query, new HashSet<string>(StringComparer.Ordinal) { "details" });
        NgsiLdRequest.Negotiate(request, allowGeoJson: false);
        return Bool(request, "details")
            ? new PlainJsonResponse(registry.Get(contextId).ToDetails(), StatusCodes.Status200OK)
            : new ContextDocumentResponse(registry.GetContent(contextId));
    }

    private static async Task<IResult> DeleteAsync(string contextId, HttpContext http, ContextRegistry registry, CancellationToken ct)
    {
        var request = http.Request;
        QueryParameters.RejectUnknown(request.Query, new HashSet<string>(StringComparer.Ordinal) { "reload" });
        if (Bool(request, "reload"))
        {
            await registry.ReloadAsync(contextId, ct);
        }
        else
        {
            await registry.DeleteAsync(contextId, ct);
        }

        return Results.NoContent();
    }

    private static bool Bool(HttpRequest request, string name) => QueryParameters.Single(request.Query, name) switch
    {
        null or "false" => false,
        "true" => true,
        var other => throw NgsiLdException.BadRequest($"{name} must be true or false, not '{other}'."),
    };

    /// <summary>A @context document as served to JSON-LD processors: application/ld+json.</summary>
    private sealed class ContextDocumentResponse(JsonNode document) : IResult
    {
        public async Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.ContentType = "application/ld+json";
            await using var writer = new System.Text.Json.Utf8JsonWriter(httpContext.Response.BodyWriter);
            document.WriteTo(writer);
            await writer.FlushAsync(httpContext.RequestAborted);
        }
    }
}
