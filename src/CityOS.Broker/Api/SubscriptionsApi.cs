using System.Globalization;
using System.Text.Json.Nodes;
using CityOS.Broker.Subscriptions;
using CityOS.NgsiLd.Errors;
using CityOS.NgsiLd.JsonLd;
using CityOS.NgsiLd.Model;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;

namespace CityOS.Broker.Api;

/// <summary>The NGSI-LD subscription endpoints (§5.8, §6.10–§6.11): /subscriptions and /subscriptions/{id}.</summary>
internal static class SubscriptionsApi
{
    private static readonly HashSet<string> NoParameters = new(StringComparer.Ordinal);
    private static readonly HashSet<string> RetrieveParameters = new(StringComparer.Ordinal) { "options" };
    private static readonly HashSet<string> ListParameters = new(StringComparer.Ordinal) { "limit", "offset", "count", "options" };

    public static RouteGroupBuilder MapSubscriptionsApi(this RouteGroupBuilder api)
    {
        api.MapPost("/subscriptions", CreateAsync).WithName("CreateSubscription")
            .Describe("Create subscription", "Creates a subscription (id generated when absent); 201 with Location. 409 AlreadyExists when the id exists in the tenant.", NoParameters, jsonBody: true)
            .Returns(StatusCodes.Status201Created).Problems(StatusCodes.Status409Conflict, StatusCodes.Status415UnsupportedMediaType);
        api.MapGet("/subscriptions", QueryAsync).WithName("QuerySubscriptions")
            .Describe("Query subscriptions", "The tenant's subscriptions in creation order, paged by limit and offset; count=true adds NGSILD-Results-Count.", ListParameters)
            .ReturnsBody().Problems(StatusCodes.Status403Forbidden);
        api.MapGet("/subscriptions/{subscriptionId}", RetrieveAsync).WithName("RetrieveSubscription")
            .Describe("Retrieve subscription", "The subscription compacted with the request's @context, with its status and notification counters (options=sysAttrs adds createdAt, modifiedAt).", RetrieveParameters)
            .ReturnsBody().Problems(StatusCodes.Status404NotFound);
        api.MapPatch("/subscriptions/{subscriptionId}", UpdateAsync).WithName("UpdateSubscription")
            .Describe("Update subscription", "Replaces the members sent (notification is merged member by member); isActive pauses and resumes.", NoParameters, jsonBody: true, mergePatch: true)
            .Returns(StatusCodes.Status204NoContent).Problems(StatusCodes.Status404NotFound, StatusCodes.Status415UnsupportedMediaType);
        api.MapDelete("/subscriptions/{subscriptionId}", DeleteAsync).WithName("DeleteSubscription")
            .Describe("Delete subscription", "Deletes the subscription; queued notifications are dropped.", NoParameters)
            .Returns(StatusCodes.Status204NoContent).Problems(StatusCodes.Status404NotFound);
        return api;
    }

    private static async Task<IResult> CreateAsync(HttpContext http, SubscriptionService service, IContextResolver resolver, IOptions<BrokerOptions> options, CancellationToken ct)
    {
        var request = http.Request;
        QueryParameters.RejectUnknown(request.Query, NoParameters);
        var tenant = NgsiLdRequest.Tenant(request);
        var (body, context) = await NgsiLdRequest.ReadBodyAsync(request, resolver, options.Value, allowMergePatch: false, ct);
        var obj = EntitiesApi.AsObject(body);
        var contextNode = ContextNodeOf(request, obj);
        obj.Remove("@context");
        var id = await service.CreateAsync(tenant, obj, contextNode, context, ct);
        return Results.Created("/ngsi-ld/v1/subscriptions/" + Uri.EscapeDataString(id).Replace("%3A", ":", StringComparison.Ordinal), null);
    }

    private static async Task<IResult> RetrieveAsync(string subscriptionId, HttpContext http, SubscriptionService service, IContextResolver resolver, TimeProvider time, CancellationToken ct)
    {
        var request = http.Request;
        QueryParameters.RejectUnknown(request.Query, RetrieveParameters);
        var format = NgsiLdRequest.Negotiate(request, allowGeoJson: false);
        var tenant = NgsiLdRequest.Tenant(request);
        var context = await NgsiLdRequest.ContextFromLinkAsync(request, resolver, ct);
        var options = QueryParameters.Options(request.Query);
        QueryParameters.CheckOptions(options, "sysAttrs");
        var view = await service.RetrieveAsync(tenant, subscriptionId, ct);
        return new NgsiLdResponse(Render(view, context, options.Contains("sysAttrs"), time.GetUtcNow()), format, context);
    }

    private static async Task<IResult> QueryAsync(HttpContext http, SubscriptionService service, IContextResolver resolver, IOptions<BrokerOptions> brokerOptions, TimeProvider time, CancellationToken ct)
    {
        var request = http.Request;
        QueryParameters.RejectUnknown(request.Query, ListParameters);
        var format = NgsiLdRequest.Negotiate(request, allowGeoJson: false);
        var tenant = NgsiLdRequest.Tenant(request);
        var context = await NgsiLdRequest.ContextFromLinkAsync(request, resolver, ct);
        var options = QueryParameters.Options(request.Query);
        QueryParameters.CheckOptions(options, "sysAttrs");
        var (limit, offset, count) = QueryParameters.Paging(request.Query, brokerOptions.Value);
        var (page, total) = await service.QueryAsync(tenant, limit, offset, ct);
        var now = time.GetUtcNow();
        var array = new JsonArray();
        foreach (var view in page)
        {
            array.Add(Render(view, context, options.Contains("sysAttrs"), now));
        }

        var headers = new Dictionary<string, string>(StringComparer.Ordinal);
        if (count)
        {
            headers["NGSILD-Results-Count"] = total.ToString(CultureInfo.InvariantCulture);
        }

        return new NgsiLdResponse(array, format, context) { Headers = headers };
    }

    private static async Task<IResult> UpdateAsync(string subscriptionId, HttpContext http, SubscriptionService service, IContextResolver resolver, IOptions<BrokerOptions> options, CancellationToken ct)
    {
        var request = http.Request;
        QueryParameters.RejectUnknown(request.Query, NoParameters);
        var tenant = NgsiLdRequest.Tenant(request);
        var (body, _) = await NgsiLdRequest.ReadBodyAsync(request, resolver, options.Value, allowMergePatch: true, ct);
        var fragment = EntitiesApi.AsObject(body);
        fragment.Remove("@context");
        await service.UpdateAsync(tenant, subscriptionId, fragment, ct);
        return Results.NoContent();
    }

    private static async Task<IResult> DeleteAsync(string subscriptionId, HttpContext http, SubscriptionService service, CancellationToken ct)
    {
        var request = http.Request;
        QueryParameters.RejectUnknown(request.Query, NoParameters);
        var tenant = NgsiLdRequest.Tenant(request);
        await service.DeleteAsync(tenant, subscriptionId, ct);
        return Results.NoContent();
    }

    /// <summary>The @context value of a body request: the body's (ld+json), the Link header's, or the core context.</summary>
    private static JsonNode ContextNodeOf(HttpRequest request, JsonObject body)
    {
        if (body["@context"] is { } inBody)
        {
            return inBody.DeepClone();
        }

        var link = request.Headers.Link.ToString();
        var url = link.Length == 0 ? null : LinkHeader.ParseContextUrl(link);
        return JsonValue.Create(url ?? LdContext.Core.Urls[0]);
    }

    /// <summary>
    /// The subscription as a client reads it: the stored document with its names re-compacted from the
    /// subscription's @context to the request's, plus the status members.
    /// </summary>
    internal static JsonObject Render(SubscriptionView view, LdContext context, bool sysAttrs, DateTimeOffset now)
    {
        var active = view.Active;
        var subscription = active.Subscription;
        var own = active.Context;
        var output = subscription.Document.DeepClone().AsObject();
        string Recompact(string name) => NameRules.IsValidName(name) ? context.CompactIri(own.ExpandTerm(name)) : name;

        if (output["entities"] is JsonArray entities)
        {
            foreach (var item in entities)
            {
                if (item is JsonObject selector && selector["type"] is JsonValue t && t.TryGetValue<string>(out var type))
                {
                    selector["type"] = Recompact(type);
                }
            }
        }

        RecompactList(output["watchedAttributes"] as JsonArray, Recompact);
        if (output["geoQ"] is JsonObject geoQ && geoQ["geoproperty"] is JsonValue g && g.TryGetValue<string>(out var geoproperty))
        {
            geoQ["geoproperty"] = Recompact(geoproperty);
        }

        output["isActive"] = subscription.IsActive;
        output["status"] = subscription.StatusAt(now);
        if (output["notification"] is JsonObject notification)
        {
            RecompactList(notification["attributes"] as JsonArray, Recompact);
            var status = view.Status;
            notification["timesSent"] = status.TimesSent;
            if (status.TimesSent > 0)
            {
                notification["status"] = status.LastFailure is { } failure && (status.LastSuccess is null || failure > status.LastSuccess) ? "failed" : "ok";
            }

            if (status.TimesFailed > 0)
            {
                notification["timesFailed"] = status.TimesFailed;
            }

            SetTime(notification, "lastNotification", status.LastNotification);
            SetTime(notification, "lastSuccess", status.LastSuccess);
            SetTime(notification, "lastFailure", status.LastFailure);

            // Not NGSI-LD: this node's queue, so that a backlog or overflow is visible to operators.
            notification["queueLength"] = view.Local.QueueLength;
            notification["droppedNotifications"] = view.Local.Dropped;
        }

        if (sysAttrs)
        {
            output[Names.CreatedAt] = Timestamps.Format(subscription.CreatedAt);
            output[Names.ModifiedAt] = Timestamps.Format(subscription.ModifiedAt);
        }

        return output;
    }

    private static void RecompactList(JsonArray? names, Func<string, string> recompact)
    {
        if (names is null)
        {
            return;
        }

        for (var i = 0; i < names.Count; i++)
        {
            if (names[i] is JsonValue v && v.TryGetValue<string>(out var name))
            {
                names[i] = recompact(name);
            }
        }
    }

    private static void SetTime(JsonObject target, string name, DateTimeOffset? time)
    {
        if (time is { } t)
        {
            target[name] = Timestamps.Format(t);
        }
    }
}
