using System.Text.Json.Nodes;
using System.Threading.Channels;
using MQTTnet;

namespace CityOS.Server.Tests.NgsiLd;

/// <summary>
/// A client of the test MQTT broker (Mosquitto, started by scripts/test.sh) that collects what is published on
/// one topic.
/// </summary>
public sealed class MqttSubscriber : IAsyncDisposable
{
    /// <summary>The variable scripts/test.sh sets to the broker's URL (mqtt://127.0.0.1:port).</summary>
    public const string Variable = "CITYOS_TEST_MQTT";

    private readonly IMqttClient _client;
    private readonly Channel<JsonObject> _messages = Channel.CreateUnbounded<JsonObject>();

    private MqttSubscriber(IMqttClient client) => _client = client;

    /// <summary>The broker URL; throws (the test fails, never skips) when the variable is not set.</summary>
    public static Uri Broker =>
        Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } value
            ? new Uri(value)
            : throw new InvalidOperationException($"{Variable} is not set: run bash scripts/test.sh, or start a broker with scripts/mosquitto.sh start DIR and export the variable it prints.");

    public static async Task<MqttSubscriber> StartAsync(string topic)
    {
        var broker = Broker;
        var client = new MqttClientFactory().CreateMqttClient();
        var subscriber = new MqttSubscriber(client);
        client.ApplicationMessageReceivedAsync += e =>
        {
            subscriber._messages.Writer.TryWrite((JsonObject)JsonNode.Parse(e.ApplicationMessage.ConvertPayloadToString())!);
            return Task.CompletedTask;
        };
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer(broker.Host, broker.Port).WithClientId("test-" + Guid.NewGuid().ToString("N")).Build());
        await client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter(topic).Build());
        return subscriber;
    }

    public async Task<JsonObject> NextAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        return await _messages.Reader.ReadAsync(cts.Token);
    }

    public async ValueTask DisposeAsync()
    {
        if (_client.IsConnected)
        {
            await _client.DisconnectAsync();
        }

        _client.Dispose();
    }
}
