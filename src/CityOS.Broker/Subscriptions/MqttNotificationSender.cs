using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace CityOS.Broker.Subscriptions;

/// <summary>
/// Publishes notifications to MQTT brokers (mqtt://[user[:password]@]host[:port]/topic, mqtts:// with TLS),
/// with MQTTnet. The message is <c>{"metadata": {Content-Type, Link, NGSILD-Tenant, receiverInfo…}, "body":
/// notification}</c>; notifierInfo MQTT-Version (mqtt3.1.1 or mqtt5.0, default 5.0) and MQTT-QoS (0, 1, 2; default
/// 0) choose the protocol and quality of service. One connection per broker, user and version is kept and
/// reopened when lost.
/// </summary>
public sealed partial class MqttNotificationSender : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, Connection> _connections = new(StringComparer.Ordinal);
    private readonly MqttClientFactory _factory = new();
    private readonly ILogger _logger;

    /// <summary>A sender; <paramref name="logger"/> records connection losses.</summary>
    public MqttNotificationSender(ILogger<MqttNotificationSender>? logger = null) => _logger = (ILogger?)logger ?? NullLogger.Instance;

    /// <summary>Publishes <paramref name="notification"/> for <paramref name="subscription"/>.</summary>
    public async Task PublishAsync(Subscription subscription, IReadOnlyList<KeyValuePair<string, string>> metadata, JsonObject notification, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(subscription);
        ArgumentNullException.ThrowIfNull(metadata);
        ArgumentNullException.ThrowIfNull(notification);
        var endpoint = subscription.Endpoint;
        var uri = endpoint.Uri;
        var version = Info(endpoint, "MQTT-Version") == "mqtt3.1.1" ? MqttProtocolVersion.V311 : MqttProtocolVersion.V500;
        var qos = Info(endpoint, "MQTT-QoS") switch
        {
            "1" => MqttQualityOfServiceLevel.AtLeastOnce,
            "2" => MqttQualityOfServiceLevel.ExactlyOnce,
            _ => MqttQualityOfServiceLevel.AtMostOnce,
        };

        var meta = new JsonObject();
        foreach (var (key, value) in metadata)
        {
            meta[key] = value;
        }

        var message = new JsonObject { ["metadata"] = meta, ["body"] = notification.DeepClone() };
        var client = await ClientAsync(uri, version, cancellationToken).ConfigureAwait(false);
        var application = new MqttApplicationMessageBuilder()
            .WithTopic(Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/')))
            .WithPayload(Encoding.UTF8.GetBytes(message.ToJsonString()))
            .WithQualityOfServiceLevel(qos)
            .WithContentType(endpoint.Accept)
            .Build();
        var result = await client.PublishAsync(application, cancellationToken).ConfigureAwait(false);
        if (!result.IsSuccess)
        {
            throw new InvalidOperationException($"The MQTT broker refused the message: {result.ReasonCode} {result.ReasonString}");
        }
    }

    private static string? Info(NotificationEndpoint endpoint, string key)
    {
        foreach (var (k, v) in endpoint.NotifierInfo)
        {
            if (k == key)
            {
                return v;
            }
        }

        return null;
    }

    private async Task<IMqttClient> ClientAsync(Uri uri, MqttProtocolVersion version, CancellationToken cancellationToken)
    {
        var key = $"{uri.Scheme}://{uri.UserInfo}@{uri.Host}:{uri.Port}/{version}";
        var connection = _connections.GetOrAdd(key, _ => new Connection(_factory.CreateMqttClient()));
        await connection.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!connection.Client.IsConnected)
            {
                var tls = uri.Scheme == "mqtts";
                var builder = new MqttClientOptionsBuilder()
                    .WithTcpServer(uri.Host, uri.IsDefaultPort || uri.Port <= 0 ? (tls ? 8883 : 1883) : uri.Port)
                    .WithProtocolVersion(version)
                    .WithClientId("cityos-" + Guid.NewGuid().ToString("N"))
                    .WithCleanSession();
                if (uri.UserInfo.Length > 0)
                {
                    var parts = uri.UserInfo.Split(':', 2);
                    builder.WithCredentials(Uri.UnescapeDataString(parts[0]), parts.Length > 1 ? Uri.UnescapeDataString(parts[1]) : null);
                }

                if (tls)
                {
                    builder.WithTlsOptions(o => o.UseTls());
                }

                await connection.Client.ConnectAsync(builder.Build(), cancellationToken).ConfigureAwait(false);
                LogConnected(_logger, uri.Host, uri.Port);
            }

            return connection.Client;
        }
        finally
        {
            connection.Gate.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var connection in _connections.Values)
        {
            try
            {
                if (connection.Client.IsConnected)
                {
                    await connection.Client.DisconnectAsync().ConfigureAwait(false);
                }
            }
            catch (MQTTnet.Exceptions.MqttCommunicationException)
            {
                // Already gone.
            }

            connection.Client.Dispose();
            connection.Gate.Dispose();
        }

        _connections.Clear();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Connected to MQTT broker {Host}:{Port} for notifications")]
    private static partial void LogConnected(ILogger logger, string host, int port);

    private sealed class Connection(IMqttClient client)
    {
        public IMqttClient Client { get; } = client;

        public SemaphoreSlim Gate { get; } = new(1, 1);
    }
}
