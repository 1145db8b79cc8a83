using System.Reflection;
using CityOS.Broker.Cluster;
using CityOS.Broker.Storage;
using CityOS.Broker.Subscriptions;
using Microsoft.AspNetCore.Http.HttpResults;

namespace CityOS.Server.Hosting;

/// <summary>/health and /version.</summary>
internal static class SystemEndpoints
{
    public static IEndpointRouteBuilder MapSystemEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/health", GetHealthAsync).WithName("Health").WithTags("System");
        app.MapGet("/version", GetVersion).WithName("Version").WithTags("System");
        return app;
    }

    private static async Task<Results<Ok<HealthReport>, JsonHttpResult<HealthReport>>> GetHealthAsync(HttpContext context, CancellationToken cancellationToken)
    {
        var store = context.RequestServices.GetService<IEntityStore>();
        var ready = store is null || await store.IsReadyAsync(cancellationToken).ConfigureAwait(false);
        var cluster = context.RequestServices.GetService<IClusterEvents>()?.Status is { } channel ? ClusterHealth.From(channel) : null;
        var notifier = context.RequestServices.GetService<SubscriptionNotifier>();
        NotificationHealth? notifications = null;
        if (notifier is not null)
        {
            var (queued, dropped, subscriptions) = notifier.Totals();
            notifications = new NotificationHealth(subscriptions, notifier.PendingChanges, notifier.DroppedChanges, queued, dropped);
        }

        // A node that misses other nodes' events still answers from the shared store, but its caches may be stale
        // until the channel is back: live (200), yet not "ok".
        var status = !ready ? "unavailable" : cluster is { Connected: false } ? "degraded" : "ok";
        var report = new HealthReport(status, "ok", ready ? "ok" : "unavailable", store?.Name ?? "none", cluster, notifications);
        return ready ? TypedResults.Ok(report) : TypedResults.Json(report, statusCode: StatusCodes.Status503ServiceUnavailable);
    }

    private static Ok<VersionInfo> GetVersion(HttpContext context)
    {
        var store = context.RequestServices.GetService<IEntityStore>();
        var version = typeof(SystemEndpoints).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
        return TypedResults.Ok(new VersionInfo("CityOS", version, "1.8.1", store?.Name ?? "none", Environment.Version.ToString()));
    }
}

/// <summary>
/// The /health body: overall status (<c>ok</c>, <c>degraded</c> when the cluster-events channel is down,
/// <c>unavailable</c> when the store does not answer), liveness, storage readiness, the cluster-events channel and
/// the notifier's queues.
/// </summary>
public sealed record HealthReport(string Status, string Liveness, string Storage, string Store, ClusterHealth? Cluster, NotificationHealth? Notifications = null);

/// <summary>
/// The cluster-events channel in /health: how events reach this node (<c>in-process</c>, <c>postgres-listen</c>),
/// whether it is connected now (<see cref="State"/> <c>connected</c> or <c>disconnected</c>), since when, and how
/// many times it reconnected since start-up.
/// </summary>
public sealed record ClusterHealth(string Transport, string State, bool Connected, DateTimeOffset? Since, int Reconnects)
{
    internal static ClusterHealth From(ClusterChannelStatus status) =>
        new(status.Transport, status.Connected ? "connected" : "disconnected", status.Connected, status.Since, status.Reconnects);
}

/// <summary>
/// This node's notification queues: subscriptions that have notified since start, committed writes waiting to
/// be matched and those dropped because that queue was full, notifications waiting to be sent and those dropped
/// because a subscription's queue was full.
/// </summary>
public sealed record NotificationHealth(int Subscriptions, int PendingChanges, long DroppedChanges, int QueuedNotifications, long DroppedNotifications);

/// <summary>The /version body.</summary>
public sealed record VersionInfo(string Product, string Version, string NgsiLdVersion, string Store, string Runtime);
