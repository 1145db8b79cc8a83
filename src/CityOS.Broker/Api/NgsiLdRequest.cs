using System.Text.Json;
using System.Text.Json.Nodes;
using CityOS.Broker.Storage;
using CityOS.NgsiLd.Errors;
using CityOS.NgsiLd.JsonLd;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace CityOS.Broker.Api;

/// <summary>The response media types the API can produce.</summary>
internal enum ResponseFormat
{
    Json,
    JsonLd,
    GeoJson,
}

/// <summary>
/// Reads what every NGSI-LD request carries: the tenant, the @context (Link header or body), the body itself
/// with its content-type rules (§6.3.4–6.3.5), and the Accept negotiation (§6.3.6).
/// </summary>
internal static class NgsiLdRequest
{
    public const string TenantHeader = "NGSILD-Tenant";

    /// <summary>The tenant named by the NGSILD-Tenant header; "" for the default tenant.</summary>
    public static string Tenant(HttpRequest request)
    {
        var value = request.Headers[TenantHeader].ToString();
        if (value.Length == 0)
        {
            return string.Empty;
        }

        TenantName.Validate(value);
        return value;
    }

    /// <summary>The @context of a body-less request: the Link header's, or the core context.</summary>
    public static ValueTask<LdContext> ContextFromLinkAsync(HttpRequest request, IContextResolver resolver, CancellationToken cancellationToken)
    {
        var url = LinkContextUrl(request);
        return url is null ? ValueTask.FromResult(LdContext.Core) : resolver.ResolveAsync(JsonValue.Create(url), cancellationToken);
    }

    private static string? LinkContextUrl(HttpRequest request)
    {
        var link = request.Headers.Link.ToString();
        return link.Length == 0 ? null : LinkHeader.ParseContextUrl(link);
    }

    /// <summary>
    /// Reads and parses a JSON body, enforcing the content type, size and depth limits, and resolves its
    /// @context: from the body for application/ld+json, from the Link header for application/json.
    /// </summary>
    public static async ValueTask<(JsonNode Body, LdContext Context)> ReadBodyAsync(
        HttpRequest request, IContextResolver resolver, BrokerOptions options, bool allowMergePatch, CancellationToken cancellationToken)
    {
        var contentType = request.ContentType;
        if (string.IsNullOrEmpty(contentType) || !MediaTypeHeaderValue.TryParse(contentType, out var media))
        {
            throw new NgsiLdException(ErrorType.UnsupportedMediaType, "A body must be sent as application/json or application/ld+json.");
        }

        var mediaType = media.MediaType.Value ?? string.Empty;
        var isLd = mediaType.Equals("application/ld+json", StringComparison.OrdinalIgnoreCase);
        var isJson = mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || (allowMergePatch && mediaType.Equals("application/merge-patch+json", StringComparison.OrdinalIgnoreCase));
        if (!isLd && !isJson)
        {
            throw new NgsiLdException(ErrorType.UnsupportedMediaType, $"Content type '{mediaType}' is not supported here; use application/json or application/ld+json.");
        }

        if (request.ContentLength > options.MaxBodyBytes)
        {
            throw new NgsiLdException(ErrorType.PayloadTooLarge, $"The body is larger than the limit of {options.MaxBodyBytes} bytes.");
        }

        var body = await ParseJsonAsync(request, options, cancellationToken);

        var link = LinkContextUrl(request);
        if (isLd)
        {
            if (link is not null)
            {
                throw NgsiLdException.BadRequest("With Content-Type application/ld+json the @context must be in the body, not in a Link header.");
            }

            var context = ContextMember(body, required: true);
            return (body, await resolver.ResolveAsync(context, cancellationToken));
        }

        if (ContextMember(body, required: false) is not null)
        {
            throw NgsiLdException.BadRequest("With Content-Type application/json the body must not hold @context; send it in a Link header or use application/ld+json.");
        }

        var ldContext = link is null ? LdContext.Core : await resolver.ResolveAsync(JsonValue.Create(link), cancellationToken);
        return (body, ldContext);
    }

    /// <summary>
    /// Parses a request body as JSON within the depth limit, rejecting empty bodies, JSON null and text that
    /// is not valid Unicode with 400 InvalidRequest.
    /// </summary>
    public static async ValueTask<JsonNode> ParseJsonAsync(HttpRequest request, BrokerOptions options, CancellationToken cancellationToken)
    {
        JsonNode? body;
        try
        {
            body = await JsonNode.ParseAsync(
                request.Body,
                documentOptions: new JsonDocumentOptions { MaxDepth = options.MaxJsonDepth },
                cancellationToken: cancellationToken);
        }
        catch (JsonException e)
        {
            throw NgsiLdException.InvalidRequest($"The body is not valid JSON (or is nested deeper than {options.MaxJsonDepth} levels): {e.Message}");
        }

        if (body is null)
        {
            throw NgsiLdException.InvalidRequest("The body is empty or the JSON null.");
        }

        try
        {
            DecodeStrings(body);
        }
        catch (InvalidOperationException)
        {
            throw NgsiLdException.InvalidRequest("The body holds text that is not valid UTF-8 or UTF-16 (e.g. a lone surrogate escape).");
        }
        catch (ArgumentException e)
        {
            // JsonObject refuses a member name given twice when it is first enumerated.
            throw NgsiLdException.InvalidRequest("The body holds an object with a duplicate member name: " + e.Message);
        }

        return body;
    }

    // System.Text.Json decodes strings lazily, so invalid UTF-8 or a lone "\ud800" escape (and a duplicate
    // member name) would surface deep inside the broker as an InvalidOperationException or ArgumentException
    // (a 500). Decoding every name and string once here turns such a body into a 400. Depth is bounded by
    // MaxJsonDepth.
    private static void DecodeStrings(JsonNode node)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (_, child) in o)
                {
                    if (child is not null)
                    {
                        DecodeStrings(child);
                    }
                }

                break;
            case JsonArray a:
                foreach (var item in a)
                {
                    if (item is not null)
                    {
                        DecodeStrings(item);
                    }
                }

                break;
            case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                _ = v.GetValue<string>();
                break;
        }
    }

    private static JsonNode? ContextMember(JsonNode body, bool required)
    {
        JsonNode? found = null;
        var seen = false;
        if (body is JsonObject o)
        {
            seen = o.TryGetPropertyValue("@context", out found);
        }
        else if (body is JsonArray a)
        {
            // Batch bodies: every entity carries its @context. The first one is returned as the request's context
            // (for the response Link); the batch reader expands each entity with its own.
            foreach (var item in a)
            {
                if (item is JsonObject io && io.TryGetPropertyValue("@context", out var c))
                {
                    seen = true;
                    found ??= c;
                }
                else if (required)
                {
                    throw NgsiLdException.BadRequest("With Content-Type application/ld+json every entity of the array must hold @context.");
                }
            }
        }

        if (required && (!seen || found is null))
        {
            throw NgsiLdException.BadRequest("With Content-Type application/ld+json the body must hold @context.");
        }

        return seen ? found ?? throw NgsiLdException.BadRequest("@context must not be null.") : null;
    }

    /// <summary>
    /// Chooses the response media type from the Accept header: application/json, application/ld+json and, where
    /// allowed, application/geo+json; q-weights win, then that order. None acceptable → 406.
    /// </summary>
    public static ResponseFormat Negotiate(HttpRequest request, bool allowGeoJson)
    {
        var accept = request.Headers.Accept;
        if (accept.Count == 0 || string.IsNullOrWhiteSpace(accept.ToString()))
        {
            return ResponseFormat.Json;
        }

        if (!MediaTypeHeaderValue.TryParseList(accept, out var ranges) || ranges.Count == 0)
        {
            throw new NgsiLdException(ErrorType.NotAcceptable, "The Accept header could not be parsed; acceptable types: application/json, application/ld+json" + (allowGeoJson ? ", application/geo+json." : "."));
        }

        var best = (Format: ResponseFormat.Json, Quality: 0.0);
        foreach (var (format, name) in Candidates(allowGeoJson))
        {
            var quality = QualityOf(ranges, name);
            if (quality > best.Quality)
            {
                best = (format, quality);
            }
        }

        if (best.Quality <= 0)
        {
            throw new NgsiLdException(ErrorType.NotAcceptable, "None of the accepted media types can be produced; acceptable types: application/json, application/ld+json" + (allowGeoJson ? ", application/geo+json." : "."));
        }

        return best.Format;
    }

    private static IEnumerable<(ResponseFormat, string)> Candidates(bool allowGeoJson)
    {
        yield return (ResponseFormat.Json, "application/json");
        yield return (ResponseFormat.JsonLd, "application/ld+json");
        if (allowGeoJson)
        {
            yield return (ResponseFormat.GeoJson, "application/geo+json");
        }
    }

    private static double QualityOf(IList<MediaTypeHeaderValue> ranges, string candidate)
    {
        // The most specific matching range decides (RFC 9110 §12.5.1).
        var specificity = -1;
        var quality = 0.0;
        foreach (var range in ranges)
        {
            var value = range.MediaType.Value ?? string.Empty;
            int s;
            if (value.Equals(candidate, StringComparison.OrdinalIgnoreCase))
            {
                s = 2;
            }
            else if (value == "*/*" || value.Equals("application/*", StringComparison.OrdinalIgnoreCase))
            {
                // Wildcards resolve to application/json only (FACTS §2).
                if (candidate != "application/json")
                {
                    continue;
                }

                s = value == "*/*" ? 0 : 1;
            }
            else
            {
                continue;
            }

            if (s > specificity)
            {
                specificity = s;
                quality = range.Quality ?? 1.0;
            }
        }

        return quality;
    }
}
