using System.Text.Json.Nodes;
using CityOS.Broker.Changes;
using CityOS.Broker.Subscriptions;
using CityOS.NgsiLd.JsonLd;

namespace CityOS.Server.Tests.Subscriptions;

/// <summary>Which entity changes notify which subscriptions, and what the notification then says.</summary>
public sealed class SubscriptionMatcherTests
{
    private const string Ex = "https://example.org/ns/";
    private const string Temperature = Ex + "temperature";
    private const string Status = Ex + "state";
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
    private static readonly JsonObject ContextDocument = new() { ["@vocab"] = Ex };
    private static readonly LdContext Context = LdContext.Create(ContextDocument.DeepClone());

    private static Subscription Subscribe(string members = "", string notification = "") =>
        SubscriptionParser.Parse(
            "",
            (JsonObject)JsonNode.Parse($$"""{"id": "urn:s:1", "type": "Subscription", "entities": [{"type": "Sensor"}]{{members}}, "notification": {"endpoint": {"uri": "http://r.example/n"}{{notification}} } }""")!,
            ContextDocument.DeepClone(),
            Context,
            Now,
            Now);

    private static JsonObject Sensor(string id, double temperature, string status = "ok", string modifiedAt = "2026-11-23T10:00:00.000000Z", string? observedAt = null)
    {
        var instance = new JsonObject { ["type"] = "Property", ["value"] = temperature, ["modifiedAt"] = modifiedAt };
        if (observedAt is not null)
        {
            instance["observedAt"] = observedAt;
        }

        return new JsonObject
        {
            ["id"] = id,
            ["type"] = new JsonArray(Ex + "Sensor"),
            [Temperature] = new JsonArray(instance),
            [Status] = new JsonArray(new JsonObject { ["type"] = "Property", ["value"] = status }),
        };
    }

    private static EntityChange Updated(JsonObject before, JsonObject after) => new("", (string)after["id"]!, EntityChangeKind.Updated, before, after, Now);

    [Fact]
    public void Rewriting_the_same_value_is_not_a_change_but_a_new_observedAt_is()
    {
        var subscription = Subscribe();
        var before = Sensor("urn:a", 20);
        Assert.Null(SubscriptionMatcher.Match(subscription, Updated(before, Sensor("urn:a", 20, modifiedAt: "2026-11-23T11:00:00.000000Z"))));
        var match = SubscriptionMatcher.Match(subscription, Updated(before, Sensor("urn:a", 20, observedAt: "2026-11-23T11:00:00Z")));
        Assert.NotNull(match);
        Assert.Equal([Temperature], match.Updated);
    }

    [Fact]
    public void Only_watched_attributes_count()
    {
        var subscription = Subscribe(""", "watchedAttributes": ["temperature"]""");
        var before = Sensor("urn:a", 20);
        Assert.Null(SubscriptionMatcher.Match(subscription, Updated(before, Sensor("urn:a", 20, status: "alarm"))));
        Assert.NotNull(SubscriptionMatcher.Match(subscription, Updated(before, Sensor("urn:a", 21))));
    }

    [Fact]
    public void Entities_are_selected_by_type_id_and_id_pattern()
    {
        var byPattern = Subscribe().Document.DeepClone().AsObject();
        byPattern["entities"] = JsonNode.Parse("""[{"type": "Sensor", "idPattern": "^urn:ngsi-ld:Sensor:0.*"}, {"type": "Camera", "id": "urn:c"}]""");
        var subscription = SubscriptionParser.Parse("", byPattern, ContextDocument.DeepClone(), Context, Now, Now);
        var created = new EntityChange("", "urn:ngsi-ld:Sensor:01", EntityChangeKind.Created, null, Sensor("urn:ngsi-ld:Sensor:01", 1), Now);
        Assert.NotNull(SubscriptionMatcher.Match(subscription, created));
        Assert.Null(SubscriptionMatcher.Match(subscription, created with { EntityId = "urn:ngsi-ld:Sensor:11", After = Sensor("urn:ngsi-ld:Sensor:11", 1) }));
        var camera = Sensor("urn:c", 1);
        camera["type"] = new JsonArray(Ex + "Camera");
        Assert.NotNull(SubscriptionMatcher.Match(subscription, created with { EntityId = "urn:c", After = camera }));
    }

    [Fact]
    public void Triggers_decide_which_kinds_of_change_notify()
    {
        var created = new EntityChange("", "urn:a", EntityChangeKind.Created, null, Sensor("urn:a", 1), Now);
        var deleted = new EntityChange("", "urn:a", EntityChangeKind.Deleted, Sensor("urn:a", 1), null, Now);
        var withoutStatus = Sensor("urn:a", 1);
        withoutStatus.Remove(Status);
        var attributeDeleted = Updated(Sensor("urn:a", 1), withoutStatus);

        var defaults = Subscribe();
        Assert.NotNull(SubscriptionMatcher.Match(defaults, created));
        Assert.Null(SubscriptionMatcher.Match(defaults, deleted));
        Assert.Null(SubscriptionMatcher.Match(defaults, attributeDeleted));

        var deletions = Subscribe(""", "notificationTrigger": ["entityDeleted", "attributeDeleted"]""");
        Assert.Null(SubscriptionMatcher.Match(deletions, created));
        Assert.NotNull(SubscriptionMatcher.Match(deletions, deleted));
        Assert.Equal([Status], SubscriptionMatcher.Match(deletions, attributeDeleted)!.Deleted);
    }

    [Fact]
    public void Q_is_evaluated_after_the_change_and_before_a_deletion()
    {
        var subscription = Subscribe(""", "q": "temperature>30", "notificationTrigger": ["attributeUpdated", "entityDeleted"]""");
        Assert.Null(SubscriptionMatcher.Match(subscription, Updated(Sensor("urn:a", 40), Sensor("urn:a", 20))));
        Assert.NotNull(SubscriptionMatcher.Match(subscription, Updated(Sensor("urn:a", 20), Sensor("urn:a", 40))));
        Assert.NotNull(SubscriptionMatcher.Match(subscription, new EntityChange("", "urn:a", EntityChangeKind.Deleted, Sensor("urn:a", 40), null, Now)));
        Assert.Null(SubscriptionMatcher.Match(subscription, new EntityChange("", "urn:a", EntityChangeKind.Deleted, Sensor("urn:a", 10), null, Now)));
    }

    [Fact]
    public void Notification_renders_entities_compacted_and_deleted_ones_as_id_type_deletedAt()
    {
        var subscription = Subscribe(""", "notificationTrigger": ["attributeUpdated", "entityDeleted"]""", """, "format": "keyValues", "attributes": ["temperature"]""");
        var update = SubscriptionMatcher.Match(subscription, Updated(Sensor("urn:a", 1), Sensor("urn:a", 2)))!;
        var deletion = SubscriptionMatcher.Match(subscription, new EntityChange("", "urn:b", EntityChangeKind.Deleted, Sensor("urn:b", 1), null, Now))!;
        var notification = NotificationBuilder.Build(subscription, Context, [update, deletion], Now);

        Assert.Equal("Notification", (string?)notification["type"]);
        Assert.Equal("urn:s:1", (string?)notification["subscriptionId"]);
        Assert.Equal("2026-11-23T12:00:00.000000Z", (string?)notification["notifiedAt"]);
        Assert.Null(notification["@context"]);
        var data = notification["data"]!.AsArray();
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"id": "urn:a", "type": "Sensor", "temperature": 2}"""), data[0]));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"id": "urn:b", "type": "Sensor", "deletedAt": "2026-11-23T12:00:00.000000Z"}"""), data[1]));
    }

    [Fact]
    public void ShowChanges_adds_the_previous_value_of_each_changed_attribute()
    {
        var subscription = Subscribe(notification: """, "showChanges": true""");
        var match = SubscriptionMatcher.Match(subscription, Updated(Sensor("urn:a", 1), Sensor("urn:a", 2)))!;
        var entity = NotificationBuilder.Build(subscription, Context, [match], Now)["data"]![0]!;
        Assert.Equal(2, (double?)entity["temperature"]!["value"]);
        Assert.Equal(1, (double?)entity["temperature"]!["previousValue"]);
        Assert.Null(entity["state"]!["previousValue"]);
    }

    [Fact]
    public void Geo_json_endpoints_get_a_feature_collection()
    {
        var subscription = Subscribe(notification: """, "format": "keyValues" """).Document.DeepClone().AsObject();
        subscription["notification"]!["endpoint"]!["accept"] = "application/geo+json";
        var parsed = SubscriptionParser.Parse("", subscription, ContextDocument.DeepClone(), Context, Now, Now);
        var sensor = Sensor("urn:a", 2);
        sensor["https://uri.etsi.org/ngsi-ld/location"] = JsonNode.Parse("""[{"type": "GeoProperty", "value": {"type": "Point", "coordinates": [106.6, 10.9]}}]""");
        var match = SubscriptionMatcher.Match(parsed, new EntityChange("", "urn:a", EntityChangeKind.Created, null, sensor, Now))!;
        var notification = NotificationBuilder.Build(parsed, Context, [match], Now);
        var data = notification["data"]!;
        Assert.Equal("FeatureCollection", (string?)data["type"]);
        var feature = data["features"]![0]!;
        Assert.Equal("urn:a", (string?)feature["id"]);
        Assert.Equal("Point", (string?)feature["geometry"]!["type"]);
        Assert.Equal(2, (double?)feature["properties"]!["temperature"]);
        Assert.NotNull(notification["@context"]);
    }
}
