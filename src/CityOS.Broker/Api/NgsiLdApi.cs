using CityOS.NgsiLd.Errors;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CityOS.Broker.Api;

/// <summary>Maps the NGSI-LD API under /ngsi-ld/v1.</summary>
public static class NgsiLdApi
{
    public const string BasePath = "/ngsi-ld/v1";

    /// <summary>
    /// Maps every NGSI-LD endpoint and the error handling that turns failures under /ngsi-ld into problem details.
    /// Call on the application before other endpoint mappings.
    /// </summary>
    public static WebApplication MapNgsiLdApi(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("CityOS.Broker.Api");

        // Clients that join a base URL ending in '/' with '/entities' send '//' (FACTS §11.8); route them as if
        // the slashes were single. Routing must therefore run after this, hence the explicit UseRouting below.
        app.Use((context, next) =>
        {
            var path = context.Request.Path.Value;
            if (path is not null && path.Contains("//", StringComparison.Ordinal))
            {
                var collapsed = CollapseSlashes(path);
                if (collapsed.StartsWith(BasePath, StringComparison.Ordinal))
                {
                    context.Request.Path = new PathString(collapsed);
                }
            }

            return next(context);
        });
        app.UseWhen(
            context => context.Request.Path.StartsWithSegments("/ngsi-ld", StringComparison.Ordinal),
            branch => branch.Use(async (context, next) =>
            {
                if (context.Request.Headers.TryGetValue(NgsiLdRequest.TenantHeader, out var tenant))
                {
                    context.Response.Headers[NgsiLdRequest.TenantHeader] = tenant;
                }

                await NgsiLdProblem.HandleAsync(context, next, logger);
                await AnswerUnroutedAsync(context);
            }));

        app.UseRouting();

        var api = app.MapGroup(BasePath).WithTags("NGSI-LD");
        api.MapEntitiesApi();
        api.MapBatchApi();
        api.MapDiscoveryApi();
        api.MapContextsApi();
        api.MapSubscriptionsApi();
        api.MapTemporalApi();
        return app;
    }

    private static string CollapseSlashes(string path)
    {
        var builder = new System.Text.StringBuilder(path.Length);
        foreach (var c in path)
        {
            if (c != '/' || builder.Length == 0 || builder[^1] != '/')
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }

    /// <summary>Unknown paths and wrong methods under /ngsi-ld still answer with problem details.</summary>
    private static Task AnswerUnroutedAsync(HttpContext context)
    {
        if (context.Response.HasStarted)
        {
            return Task.CompletedTask;
        }

        return context.Response.StatusCode switch
        {
            StatusCodes.Status404NotFound when context.GetEndpoint() is null =>
                NgsiLdProblem.WriteAsync(context, ErrorType.ResourceNotFound, $"No NGSI-LD resource at {context.Request.Path}."),
            StatusCodes.Status405MethodNotAllowed =>
                NgsiLdProblem.WriteAsync(context, ErrorType.MethodNotAllowed, $"Method {context.Request.Method} is not allowed on {context.Request.Path}."),
            _ => Task.CompletedTask,
        };
    }
}
