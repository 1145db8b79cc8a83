using System.Text.Json;
using System.Text.Json.Nodes;
using CityOS.NgsiLd.JsonLd;
using Microsoft.AspNetCore.Http;

namespace CityOS.Broker.Api;

/// <summary>
/// An NGSI-LD response body: application/json with the @context in a Link header, or application/ld+json /
/// application/geo+json with the @context in the body (§6.3.5). Written straight to the response stream.
/// </summary>
internal sealed class NgsiLdResponse : IResult
{
    private static readonly JsonWriterOptions WriterOptions = new() { Indented = false, SkipValidation = true };

    private readonly JsonNode _body;
    private readonly ResponseFormat _format;
    private readonly LdContext _context;
    private readonly int _status;

    public NgsiLdResponse(JsonNode body, ResponseFormat format, LdContext context, int status = StatusCodes.Status200OK)
    {
        _body = body;
        _format = format;
        _context = context;
        _status = status;
    }

    /// <summary>Extra headers (NGSILD-Results-Count, paging Link …).</summary>
    public Dictionary<string, string>? Headers { get; init; }

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        var response = httpContext.Response;
        response.StatusCode = _status;
        if (Headers is not null)
        {
            foreach (var (name, value) in Headers)
            {
                response.Headers.Append(name, value);
            }
        }

        switch (_format)
        {
            case ResponseFormat.Json:
                response.ContentType = "application/json";
                response.Headers.Append("Link", LinkHeader.Format(_context.Urls[0]));
                break;
            case ResponseFormat.JsonLd:
                response.ContentType = "application/ld+json";
                AddContext(_body);
                break;
            default:
                response.ContentType = "application/geo+json";
                if (_body is JsonObject geo)
                {
                    geo["@context"] = _context.ContextNode.DeepClone();
                }

                break;
        }

        await using var writer = new Utf8JsonWriter(response.BodyWriter, WriterOptions);
        _body.WriteTo(writer);
        await writer.FlushAsync(httpContext.RequestAborted);
    }

    private void AddContext(JsonNode body)
    {
        if (body is JsonObject o)
        {
            o["@context"] = _context.ContextNode.DeepClone();
        }
        else if (body is JsonArray a)
        {
            foreach (var item in a)
            {
                if (item is JsonObject io)
                {
                    io["@context"] = _context.ContextNode.DeepClone();
                }
            }
        }
    }
}

/// <summary>A plain application/json body without @context (errors, batch results, UpdateResult, context lists).</summary>
internal sealed class PlainJsonResponse(JsonNode body, int status) : IResult
{
    public async Task ExecuteAsync(HttpContext httpContext)
    {
        httpContext.Response.StatusCode = status;
        httpContext.Response.ContentType = "application/json";
        await using var writer = new Utf8JsonWriter(httpContext.Response.BodyWriter);
        body.WriteTo(writer);
        await writer.FlushAsync(httpContext.RequestAborted);
    }
}
