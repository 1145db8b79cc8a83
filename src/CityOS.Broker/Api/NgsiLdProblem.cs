using System.Text.Json;
using CityOS.NgsiLd.Errors;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace CityOS.Broker.Api;

/// <summary>
/// Turns every failure under /ngsi-ld into an RFC 7807 problem-details response with the ETSI error type
/// (§5.5.3): NGSI-LD errors as they are, framework request errors (oversize body, bad headers) as 4xx, and
/// anything unexpected as 500 InternalError without internals.
/// </summary>
internal static partial class NgsiLdProblem
{
    public static async Task WriteAsync(HttpContext context, ErrorType type, string detail)
    {
        var response = context.Response;
        if (response.HasStarted)
        {
            return;
        }

        var allow = response.Headers.Allow.ToString();
        var tenant = response.Headers["NGSILD-Tenant"].ToString();
        response.Clear();
        var status = ErrorTypes.Status(type);
        response.StatusCode = status;
        response.ContentType = "application/json";
        if (type == ErrorType.MethodNotAllowed && allow.Length > 0)
        {
            response.Headers.Allow = allow;
        }

        if (tenant.Length > 0)
        {
            response.Headers["NGSILD-Tenant"] = tenant;
        }

        await using var writer = new Utf8JsonWriter(response.Body);
        writer.WriteStartObject();
        writer.WriteString("type", ErrorTypes.Uri(type));
        writer.WriteString("title", ErrorTypes.Title(type));
        writer.WriteNumber("status", status);
        writer.WriteString("detail", detail);
        writer.WriteString("instance", context.Request.Path.Value);
        writer.WriteEndObject();
        await writer.FlushAsync(context.RequestAborted);
    }

    /// <summary>Middleware body: runs the pipeline and converts exceptions to problem details.</summary>
    public static async Task HandleAsync(HttpContext context, RequestDelegate next, ILogger logger)
    {
        try
        {
            await next(context);
        }
        catch (NgsiLdException e)
        {
            await WriteAsync(context, e.Type, e.Message);
        }
        catch (BadHttpRequestException e)
        {
            var type = e.StatusCode switch
            {
                StatusCodes.Status413PayloadTooLarge => ErrorType.PayloadTooLarge,
                StatusCodes.Status411LengthRequired => ErrorType.LengthRequired,
                StatusCodes.Status415UnsupportedMediaType => ErrorType.UnsupportedMediaType,
                _ => ErrorType.InvalidRequest,
            };
            await WriteAsync(context, type, e.Message);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; nothing to answer.
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogUnexpected(logger, context.Request.Method, context.Request.Path.Value ?? string.Empty, e);
            await WriteAsync(context, ErrorType.InternalError, "The broker failed to process the request; the failure has been logged.");
        }
    }

    [LoggerMessage(EventId = 1000, Level = LogLevel.Error, Message = "Unexpected failure on {Method} {Path}")]
    private static partial void LogUnexpected(ILogger logger, string method, string path, Exception exception);
}
