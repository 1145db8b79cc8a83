using System.Text.Json.Nodes;
using CityOS.Broker.Subscriptions;
using CityOS.NgsiLd.Errors;
using CityOS.NgsiLd.JsonLd;
using CityOS.NgsiLd.Model;
using CityOS.NgsiLd.Query;

namespace CityOS.Server.Tests.Subscriptions;

/// <summary>Subscription bodies: defaults, expansion with the @context, validation, PATCH merging.</summary>
public sealed class SubscriptionParserTests
{
    private const string Ex = "https://example.org/ns/";
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
    private static readonly JsonObject ContextDocument = new() { ["Sensor"] = Ex + "Sensor", ["temp"] = Ex + "temperature" };
    private static readonly LdContext Context = LdContext.Create(ContextDocument.DeepClone());

    private static Subscription Parse(string json)
    {
        var document = SubscriptionParser.PrepareCreate((JsonObject)JsonNode.Parse(json)!);
        return SubscriptionParser.Parse("", document, ContextDocument.DeepClone(), Context, Now, Now);
    }

    [Fact]
    public void Defaults_follow_the_spec()
    {
        var s = Parse("""{"type": "Subscription", "entities": [{"type": "Sensor"}], "notification": {"endpoint": {"uri": "http://r.example/n"}}}""");
        Assert.StartsWith("urn:ngsi-ld:Subscription:", s.Id, StringComparison.Ordinal);
        Assert.Equal(NotificationTriggers.AttributeCreated | NotificationTriggers.AttributeUpdated, s.Triggers);
        Assert.True(s.IsActive);
        Assert.Null(s.WatchedAttributes);
        Assert.Equal(Representation.Normalized, s.Format);
        Assert.Equal("application/json", s.Endpoint.Accept);
        Assert.Equal("active", s.StatusAt(Now));
    }

    [Fact]
    public void Names_are_expanded_with_the_context()
    {
        var s = Parse("""
            {"type": "Subscription", "entities": [{"type": "Sensor"}], "watchedAttributes": ["temp"], "q": "temp>3",
             "notification": {"attributes": ["temp", "other"], "endpoint": {"uri": "http://r.example/n"}}}
            """);
        Assert.Equal(Ex + "Sensor", Assert.IsType<TypeName>(s.Entities[0].Type).Iri);
        Assert.Equal([Ex + "temperature"], s.WatchedAttributes!);
        Assert.Contains(Ex + "temperature", s.Attributes!);
        Assert.Contains("https://uri.etsi.org/ngsi-ld/default-context/other", s.Attributes!);
        Assert.NotNull(s.Q);
    }

    [Fact]
    public void EntityUpdated_stands_for_the_three_attribute_triggers()
    {
        var s = Parse("""{"type": "Subscription", "entities": [{"type": "Sensor"}], "notificationTrigger": ["entityUpdated", "entityDeleted"], "notification": {"endpoint": {"uri": "http://r.example/n"}}}""");
        Assert.Equal(
            NotificationTriggers.AttributeCreated | NotificationTriggers.AttributeUpdated | NotificationTriggers.AttributeDeleted | NotificationTriggers.EntityDeleted,
            s.Triggers);
    }

    [Fact]
    public void Read_only_members_sent_back_by_a_client_are_ignored()
    {
        var s = Parse("""
            {"type": "Subscription", "entities": [{"type": "Sensor"}], "status": "active", "createdAt": "2020-01-01T00:00:00Z",
             "notification": {"timesSent": 4, "status": "ok", "endpoint": {"uri": "http://r.example/n"}}}
            """);
        Assert.False(s.Document.ContainsKey("status"));
        Assert.False(s.Document["notification"]!.AsObject().ContainsKey("timesSent"));
    }

    [Fact]
    public void Expiry_and_pause_show_in_the_status()
    {
        var paused = Parse("""{"type": "Subscription", "entities": [{"type": "Sensor"}], "isActive": false, "notification": {"endpoint": {"uri": "http://r.example/n"}}}""");
        Assert.Equal("paused", paused.StatusAt(Now));
        Assert.False(paused.IsLiveAt(Now));
        var expiring = Parse("""{"type": "Subscription", "entities": [{"type": "Sensor"}], "expiresAt": "2026-11-23T13:00:00Z", "notification": {"endpoint": {"uri": "http://r.example/n"}}}""");
        Assert.True(expiring.IsLiveAt(Now));
        Assert.False(expiring.IsLiveAt(Now.AddHours(2)));
        Assert.Equal("expired", expiring.StatusAt(Now.AddHours(2)));
    }

    [Fact]
    public void Mqtt_endpoints_need_a_topic_and_valid_notifier_info()
    {
        var s = Parse("""{"type": "Subscription", "entities": [{"type": "Sensor"}], "notification": {"endpoint": {"uri": "mqtt://u:p@broker.example:1884/city/alerts", "notifierInfo": [{"key": "MQTT-Version", "value": "mqtt3.1.1"}]}}}""");
        Assert.True(s.Endpoint.IsMqtt);
        var e = Assert.Throws<NgsiLdException>(() => Parse("""{"type": "Subscription", "entities": [{"type": "Sensor"}], "notification": {"endpoint": {"uri": "mqtt://broker.example/t", "notifierInfo": [{"key": "MQTT-QoS", "value": "3"}]}}}"""));
        Assert.Equal(ErrorType.BadRequestData, e.Type);
    }

    [Fact]
    public void Patch_replaces_members_merges_notification_and_removes_with_null()
    {
        var document = (JsonObject)JsonNode.Parse("""
            {"id": "urn:s:1", "type": "Subscription", "entities": [{"type": "Sensor"}], "q": "temp>3", "throttling": 5,
             "notification": {"format": "keyValues", "endpoint": {"uri": "http://r.example/n"}}}
            """)!;
        var patched = SubscriptionParser.ApplyPatch(document, (JsonObject)JsonNode.Parse("""{"q": "temp>9", "throttling": null, "notification": {"sysAttrs": true}}""")!);
        Assert.Equal("temp>9", (string?)patched["q"]);
        Assert.False(patched.ContainsKey("throttling"));
        Assert.Equal("keyValues", (string?)patched["notification"]!["format"]);
        Assert.True((bool?)patched["notification"]!["sysAttrs"]);
        Assert.Equal("temp>3", (string?)document["q"]);

        Assert.Throws<NgsiLdException>(() => SubscriptionParser.ApplyPatch(document, (JsonObject)JsonNode.Parse("""{"id": "urn:s:2"}""")!));
        Assert.Throws<NgsiLdException>(() => SubscriptionParser.ApplyPatch(document, new JsonObject()));
    }
}
