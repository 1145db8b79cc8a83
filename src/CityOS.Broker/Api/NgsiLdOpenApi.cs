using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.OpenApi;

namespace CityOS.Broker.Api;

/// <summary>
/// OpenAPI metadata for the NGSI-LD endpoints. The handlers read their parameters and bodies from the
/// request themselves (NGSI-LD's content negotiation and strict unknown-parameter rule need that), so the
/// generator cannot infer them; this adds what a client needs to know: summary, query parameters,
/// headers, request body types and every status code with its media types.
/// </summary>
internal static class NgsiLdOpenApi
{
    private static readonly string[] NgsiLdMediaTypes = ["application/json", "application/ld+json"];
    private static readonly string[] WithGeoJson = ["application/json", "application/ld+json", "application/geo+json"];

    // One description per parameter name, shared by every operation that takes it (FACTS §6).
    private static readonly Dictionary<string, (string Description, JsonSchemaType Type)> Known = new(StringComparer.Ordinal)
    {
        ["id"] = ("Comma-separated entity ids.", JsonSchemaType.String),
        ["idPattern"] = ("Regular expression the entity id must match.", JsonSchemaType.String),
        ["type"] = ("Entity type expression: A,B or A|B (or), (A;B) (and), * (any).", JsonSchemaType.String),
        ["attrs"] = ("Comma-separated attribute names: only entities with one of them, holding only those.", JsonSchemaType.String),
        ["q"] = ("NGSI-LD query language filter, e.g. temperature>20;status==\"ok\".", JsonSchemaType.String),
        ["scopeQ"] = ("Scope filter: /a/b, /a/+/c, /a/#, joined by ; (and) and , or | (or).", JsonSchemaType.String),
        ["georel"] = ("Geo relation: near;maxDistance==m, near;minDistance==m, within, contains, intersects, equals, disjoint, overlaps.", JsonSchemaType.String),
        ["geometry"] = ("GeoJSON geometry type of the reference shape.", JsonSchemaType.String),
        ["coordinates"] = ("GeoJSON coordinates of the reference shape, as JSON text.", JsonSchemaType.String),
        ["geoproperty"] = ("GeoProperty the geo-query applies to (default location).", JsonSchemaType.String),
        ["limit"] = ("Page size; above the broker maximum the answer is 403 TooManyResults; 0 only with count=true.", JsonSchemaType.Integer),
        ["offset"] = ("Entities to skip.", JsonSchemaType.Integer),
        ["count"] = ("true adds the NGSILD-Results-Count header.", JsonSchemaType.Boolean),
        ["options"] = ("Comma-separated options (normalized, concise, keyValues/simplified, sysAttrs, noOverwrite, replace, update, as the operation allows).", JsonSchemaType.String),
        ["format"] = ("Representation: normalized, concise, keyValues or simplified (wins over options).", JsonSchemaType.String),
        ["pick"] = ("Comma-separated members to keep (id, type, scope or attribute names).", JsonSchemaType.String),
        ["omit"] = ("Comma-separated members to leave out.", JsonSchemaType.String),
        ["lang"] = ("Language preference; turns LanguageProperties into Properties of one language.", JsonSchemaType.String),
        ["datasetId"] = ("Comma-separated datasetIds (@none = the default instance).", JsonSchemaType.String),
        ["geometryProperty"] = ("GeoProperty used as the feature geometry in application/geo+json (default location).", JsonSchemaType.String),
        ["local"] = ("true: answer from this broker only.", JsonSchemaType.Boolean),
        ["csf"] = ("Context source filter (accepted for compatibility).", JsonSchemaType.String),
        ["expandValues"] = ("Attributes whose q values are expanded with the @context.", JsonSchemaType.String),
        ["jsonKeys"] = ("JsonProperty attributes whose [key] paths in q are raw JSON keys.", JsonSchemaType.String),
        ["deleteAll"] = ("true deletes every instance of the attribute.", JsonSchemaType.Boolean),
        ["details"] = ("true returns detailed objects instead of names.", JsonSchemaType.Boolean),
        ["kind"] = ("@context kind filter: Hosted, Cached or ImplicitlyCreated.", JsonSchemaType.String),
        ["reload"] = ("true re-downloads a Cached @context instead of deleting it (400 for Hosted ones).", JsonSchemaType.Boolean),
        ["timerel"] = ("Temporal relation: before (exclusive), after (inclusive) or between (timeAt inclusive, endTimeAt exclusive).", JsonSchemaType.String),
        ["timeAt"] = ("DateTime the temporal relation refers to (UTC, e.g. 2026-01-01T00:00:00Z).", JsonSchemaType.String),
        ["endTimeAt"] = ("End DateTime for timerel=between (exclusive).", JsonSchemaType.String),
        ["timeproperty"] = ("Instance timestamp the window applies to: observedAt (default), createdAt, modifiedAt or deletedAt.", JsonSchemaType.String),
        ["lastN"] = ("Only the newest N instances of each attribute inside the window.", JsonSchemaType.Integer),
        ["aggrMethods"] = ("With options=aggregatedValues: totalCount, distinctCount, sum, avg, min, max, stddev, sumsq (comma-separated).", JsonSchemaType.String),
        ["aggrPeriodDuration"] = ("With options=aggregatedValues: ISO 8601 period per bucket (PT1H, P1D, P1W); PT0S or absent = the whole window.", JsonSchemaType.String),
    };

    /// <summary>Summary, description, query parameters, the NGSI-LD request headers and, for writes, the JSON body types.</summary>
    public static RouteHandlerBuilder Describe(
        this RouteHandlerBuilder builder, string summary, string description, IEnumerable<string>? query = null, bool jsonBody = false, bool mergePatch = false)
    {
        var parameters = query?.ToArray() ?? [];
        foreach (var name in parameters)
        {
            if (!Known.ContainsKey(name))
            {
                throw new InvalidOperationException($"Query parameter '{name}' has no OpenAPI description.");
            }
        }

        return builder
            .WithSummary(summary)
            .WithDescription(description)
            .Produces<ProblemDetails>(StatusCodes.Status400BadRequest, "application/json")
            .Produces<ProblemDetails>(StatusCodes.Status500InternalServerError, "application/json")
            .AddOpenApiOperationTransformer((operation, _, _) =>
            {
                operation.Parameters ??= [];
                foreach (var name in parameters)
                {
                    var (text, type) = Known[name];
                    operation.Parameters.Add(new OpenApiParameter
                    {
                        Name = name,
                        In = ParameterLocation.Query,
                        Description = text,
                        Schema = new OpenApiSchema { Type = type },
                    });
                }

                operation.Parameters.Add(Header(NgsiLdRequest.TenantHeader, "Tenant; absent means the default tenant. Echoed in the response."));
                operation.Parameters.Add(Header("Link", "The @context as <url>; rel=\"http://www.w3.org/ns/json-ld#context\"; type=\"application/ld+json\" (not with application/ld+json bodies)."));
                if (jsonBody)
                {
                    var body = new OpenApiRequestBody { Required = true, Content = new Dictionary<string, OpenApiMediaType>(StringComparer.Ordinal) };
                    foreach (var mediaType in mergePatch ? [.. NgsiLdMediaTypes, "application/merge-patch+json"] : NgsiLdMediaTypes)
                    {
                        body.Content[mediaType] = new OpenApiMediaType { Schema = new OpenApiSchema { Type = JsonSchemaType.Object | JsonSchemaType.Array } };
                    }

                    operation.RequestBody = body;
                }

                return Task.CompletedTask;
            });
    }

    /// <summary>200 with an NGSI-LD body (JSON, JSON-LD and, where allowed, GeoJSON) and 406 for other Accept values.</summary>
    public static RouteHandlerBuilder ReturnsBody(this RouteHandlerBuilder builder, bool geoJson = false, int status = StatusCodes.Status200OK) =>
        builder.Produces<JsonNode>(status, geoJson ? WithGeoJson[0] : NgsiLdMediaTypes[0], geoJson ? WithGeoJson[1..] : NgsiLdMediaTypes[1..])
            .Produces<ProblemDetails>(StatusCodes.Status406NotAcceptable, "application/json");

    /// <summary>A status without a body (201 with Location, 204).</summary>
    public static RouteHandlerBuilder Returns(this RouteHandlerBuilder builder, params int[] statuses)
    {
        foreach (var status in statuses)
        {
            builder.Produces(status);
        }

        return builder;
    }

    /// <summary>A plain JSON body that is not an entity (ids, UpdateResult, BatchOperationResult).</summary>
    public static RouteHandlerBuilder ReturnsJson(this RouteHandlerBuilder builder, params int[] statuses)
    {
        foreach (var status in statuses)
        {
            builder.Produces<JsonNode>(status, "application/json");
        }

        return builder;
    }

    /// <summary>Problem-details errors (application/json, ETSI error type URIs).</summary>
    public static RouteHandlerBuilder Problems(this RouteHandlerBuilder builder, params int[] statuses)
    {
        foreach (var status in statuses)
        {
            builder.Produces<ProblemDetails>(status, "application/json");
        }

        return builder;
    }

    private static OpenApiParameter Header(string name, string description) => new()
    {
        Name = name,
        In = ParameterLocation.Header,
        Description = description,
        Schema = new OpenApiSchema { Type = JsonSchemaType.String },
    };
}
