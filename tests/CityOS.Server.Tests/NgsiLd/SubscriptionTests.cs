using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;

namespace CityOS.Server.Tests.NgsiLd;

/// <summary>
/// Subscriptions over real HTTP: the CRUD operations, and notifications as a real receiver gets them (payload,
/// headers, order, filters, triggers, throttling, failures, pausing, a slow endpoint next to a fast one).
/// Each test works in its own tenant.
/// </summary>
public abstract class SubscriptionTests(CityOSServer server, NotificationReceiver receiver)
{
    private const string Ex = "https://example.org/ns/";
    private readonly HttpClient _client = server.Client;
    private readonly string _tenant = "s" + Guid.NewGuid().ToString("N")[..12];

    private async Task<string> SubscribeAsync(string body, string? tenant = null)
    {
        using var response = await _client.NgPostAsync("subscriptions", body, tenant ?? _tenant);
        await response.ExpectAsync(HttpStatusCode.Created);
        var location = response.Headers.Location!.ToString();
        Assert.StartsWith("/ngsi-ld/v1/subscriptions/", location, StringComparison.Ordinal);
        return location["/ngsi-ld/v1/subscriptions/".Length..];
    }

    private static string Sub(string uri, string extra = "", string entities = """[{"type": "Sensor"}]""", string notification = "") => $$"""
        {"type": "Subscription", "entities": {{entities}}{{extra}},
         "notification": {"endpoint": {"uri": "{{uri}}"}{{notification}} } }
        """;

    private async Task CreateSensorAsync(string id, double temperature, string? tenant = null)
    {
        using var response = await _client.NgPostAsync("entities", $$"""{"id": "{{id}}", "type": "Sensor", "temperature": {"type": "Property", "value": {{temperature}} }, "status": {"type": "Property", "value": "ok"} }""", tenant ?? _tenant);
        await response.ExpectAsync(HttpStatusCode.Created);
    }

    private async Task SetTemperatureAsync(string id, double temperature)
    {
        using var response = await _client.NgPatchAsync($"entities/{id}/attrs", $$"""{"temperature": {"type": "Property", "value": {{temperature}} } }""", _tenant);
        await response.ExpectAsync(HttpStatusCode.NoContent);
    }

    private async Task<JsonNode> GetSubscriptionAsync(string id)
    {
        using var response = await _client.NgGetAsync($"subscriptions/{id}", _tenant);
        await response.ExpectAsync(HttpStatusCode.OK);
        return await response.JsonAsync();
    }

    [Fact]
    public async Task Create_retrieve_list_and_delete_a_subscription()
    {
        var uri = receiver.NewEndpoint(out _);
        var id = await SubscribeAsync($$"""
            {"id": "urn:ngsi-ld:Subscription:crud-1", "type": "Subscription", "subscriptionName": "hot",
             "entities": [{"type": "Sensor", "idPattern": "urn:ngsi-ld:Sensor:.*"}], "watchedAttributes": ["temperature"],
             "q": "temperature>30", "throttling": 2, "expiresAt": "2099-01-01T00:00:00Z",
             "notification": {"attributes": ["temperature"], "format": "keyValues",
                              "endpoint": {"uri": "{{uri}}", "accept": "application/json", "receiverInfo": [{"key": "X-Token", "value": "abc"}]} } }
            """);
        Assert.Equal("urn:ngsi-ld:Subscription:crud-1", id);

        var read = await GetSubscriptionAsync(id);
        Assert.Equal(id, (string?)read["id"]);
        Assert.Equal("Subscription", (string?)read["type"]);
        Assert.Equal("hot", (string?)read["subscriptionName"]);
        Assert.Equal("Sensor", (string?)read["entities"]![0]!["type"]);
        Assert.Equal("temperature", (string?)read["watchedAttributes"]![0]);
        Assert.Equal("active", (string?)read["status"]);
        Assert.True((bool?)read["isActive"]);
        Assert.Equal("keyValues", (string?)read["notification"]!["format"]);
        Assert.Equal(0, (int?)read["notification"]!["timesSent"]);
        Assert.Equal("abc", (string?)read["notification"]!["endpoint"]!["receiverInfo"]![0]!["value"]);

        // Another @context compacts the names its own way.
        using (var withContext = await _client.NgGetAsync($"subscriptions/{id}", _tenant, accept: "application/ld+json"))
        {
            await withContext.ExpectAsync(HttpStatusCode.OK);
            var ld = await withContext.JsonAsync();
            Assert.NotNull(ld["@context"]);
        }

        await SubscribeAsync(Sub(uri));
        using (var list = await _client.NgGetAsync("subscriptions?count=true&limit=1", _tenant))
        {
            await list.ExpectAsync(HttpStatusCode.OK);
            Assert.Equal("2", list.Headers.GetValues("NGSILD-Results-Count").Single());
            var page = (await list.JsonAsync()).AsArray();
            Assert.Single(page);
            Assert.Equal(id, (string?)page[0]!["id"]);
        }

        using (var otherTenant = await _client.NgGetAsync("subscriptions", "other" + _tenant))
        {
            await otherTenant.ExpectAsync(HttpStatusCode.NotFound, "NonexistentTenant");
        }

        // Creating the subscription created the tenant: its entity listing is empty, not 404.
        using (var entities = await _client.NgGetAsync("entities?type=Sensor", _tenant))
        {
            await entities.ExpectAsync(HttpStatusCode.OK);
        }

        using (var deleted = await _client.NgDeleteAsync($"subscriptions/{id}", _tenant))
        {
            await deleted.ExpectAsync(HttpStatusCode.NoContent);
        }

        using var gone = await _client.NgGetAsync($"subscriptions/{id}", _tenant);
        await gone.ExpectAsync(HttpStatusCode.NotFound, "ResourceNotFound");
        using var again = await _client.NgDeleteAsync($"subscriptions/{id}", _tenant);
        await again.ExpectAsync(HttpStatusCode.NotFound, "ResourceNotFound");
    }

    [Fact]
    public async Task Creating_a_subscription_with_a_taken_id_is_409_and_without_an_id_generates_one()
    {
        var uri = receiver.NewEndpoint(out _);
        var body = Sub(uri).Replace("{\"type\": \"Subscription\"", "{\"id\": \"urn:ngsi-ld:Subscription:dup\", \"type\": \"Subscription\"", StringComparison.Ordinal);
        await SubscribeAsync(body);
        using var second = await _client.NgPostAsync("subscriptions", body, _tenant);
        await second.ExpectAsync(HttpStatusCode.Conflict, "AlreadyExists");

        var generated = await SubscribeAsync(Sub(uri));
        Assert.StartsWith("urn:ngsi-ld:Subscription:", generated, StringComparison.Ordinal);
    }

    public static TheoryData<string, string> InvalidBodies => new()
    {
        { "no notification", """{"type": "Subscription", "entities": [{"type": "Sensor"}]}""" },
        { "wrong type", """{"type": "Subscriptions", "entities": [{"type": "Sensor"}], "notification": {"endpoint": {"uri": "http://x.org/n"}}}""" },
        { "no type", """{"entities": [{"type": "Sensor"}], "notification": {"endpoint": {"uri": "http://x.org/n"}}}""" },
        { "no entities nor watchedAttributes", """{"type": "Subscription", "notification": {"endpoint": {"uri": "http://x.org/n"}}}""" },
        { "empty entities", """{"type": "Subscription", "entities": [], "notification": {"endpoint": {"uri": "http://x.org/n"}}}""" },
        { "selector without type", """{"type": "Subscription", "entities": [{"id": "urn:a"}], "notification": {"endpoint": {"uri": "http://x.org/n"}}}""" },
        { "bad idPattern", """{"type": "Subscription", "entities": [{"type": "Sensor", "idPattern": "(["}], "notification": {"endpoint": {"uri": "http://x.org/n"}}}""" },
        { "ftp endpoint", """{"type": "Subscription", "entities": [{"type": "Sensor"}], "notification": {"endpoint": {"uri": "ftp://x.org/n"}}}""" },
        { "endpoint not a uri", """{"type": "Subscription", "entities": [{"type": "Sensor"}], "notification": {"endpoint": {"uri": "not a uri"}}}""" },
        { "bad accept", """{"type": "Subscription", "entities": [{"type": "Sensor"}], "notification": {"endpoint": {"uri": "http://x.org/n", "accept": "text/plain"}}}""" },
        { "bad format", """{"type": "Subscription", "entities": [{"type": "Sensor"}], "notification": {"format": "fancy", "endpoint": {"uri": "http://x.org/n"}}}""" },
        { "unknown trigger", """{"type": "Subscription", "entities": [{"type": "Sensor"}], "notificationTrigger": ["entityExploded"], "notification": {"endpoint": {"uri": "http://x.org/n"}}}""" },
        { "bad q", """{"type": "Subscription", "entities": [{"type": "Sensor"}], "q": "temperature>>", "notification": {"endpoint": {"uri": "http://x.org/n"}}}""" },
        { "near without distance", """{"type": "Subscription", "entities": [{"type": "Sensor"}], "geoQ": {"georel": "near", "geometry": "Point", "coordinates": [1, 2]}, "notification": {"endpoint": {"uri": "http://x.org/n"}}}""" },
        { "bad scopeQ", """{"type": "Subscription", "entities": [{"type": "Sensor"}], "scopeQ": "/a//b", "notification": {"endpoint": {"uri": "http://x.org/n"}}}""" },
        { "zero throttling", """{"type": "Subscription", "entities": [{"type": "Sensor"}], "throttling": 0, "notification": {"endpoint": {"uri": "http://x.org/n"}}}""" },
        { "timeInterval with watchedAttributes", """{"type": "Subscription", "entities": [{"type": "Sensor"}], "timeInterval": 10, "watchedAttributes": ["a"], "notification": {"endpoint": {"uri": "http://x.org/n"}}}""" },
        { "past expiresAt", """{"type": "Subscription", "entities": [{"type": "Sensor"}], "expiresAt": "2001-01-01T00:00:00Z", "notification": {"endpoint": {"uri": "http://x.org/n"}}}""" },
        { "bad expiresAt", """{"type": "Subscription", "entities": [{"type": "Sensor"}], "expiresAt": "tomorrow", "notification": {"endpoint": {"uri": "http://x.org/n"}}}""" },
        { "isActive not boolean", """{"type": "Subscription", "entities": [{"type": "Sensor"}], "isActive": "yes", "notification": {"endpoint": {"uri": "http://x.org/n"}}}""" },
        { "empty watchedAttributes", """{"type": "Subscription", "entities": [{"type": "Sensor"}], "watchedAttributes": [], "notification": {"endpoint": {"uri": "http://x.org/n"}}}""" },
        { "bad receiverInfo header", """{"type": "Subscription", "entities": [{"type": "Sensor"}], "notification": {"endpoint": {"uri": "http://x.org/n", "receiverInfo": [{"key": "Bad Header", "value": "v"}]}}}""" },
        { "mqtt without topic", """{"type": "Subscription", "entities": [{"type": "Sensor"}], "notification": {"endpoint": {"uri": "mqtt://broker.example.org"}}}""" },
        { "unknown member", """{"type": "Subscription", "entities": [{"type": "Sensor"}], "colour": "red", "notification": {"endpoint": {"uri": "http://x.org/n"}}}""" },
        { "id not a uri", """{"id": "not a uri", "type": "Subscription", "entities": [{"type": "Sensor"}], "notification": {"endpoint": {"uri": "http://x.org/n"}}}""" },
    };

    [Theory]
    [MemberData(nameof(InvalidBodies))]
    public async Task Invalid_subscriptions_are_400_bad_request_data(string why, string body)
    {
        using var response = await _client.NgPostAsync("subscriptions", body, _tenant);
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, why);
        await response.ExpectAsync(HttpStatusCode.BadRequest, "BadRequestData");
    }

    [Fact]
    public async Task Invalid_json_is_400_invalid_request()
    {
        using var response = await _client.NgPostAsync("subscriptions", "{\"type\": ", _tenant);
        await response.ExpectAsync(HttpStatusCode.BadRequest, "InvalidRequest");
    }

    [Fact]
    public async Task Notification_carries_the_changed_entity_with_the_spec_headers()
    {
        var uri = receiver.NewEndpoint(out var path);
        var subscriptionId = await SubscribeAsync(Sub(uri, notification: """, "attributes": ["temperature"]""").Replace("\"uri\": ", "\"receiverInfo\": [{\"key\": \"X-Auth\", \"value\": \"s3cret\"}], \"uri\": ", StringComparison.Ordinal));
        var id = Http.NewId("Sensor");
        await CreateSensorAsync(id, 21);

        var created = await receiver.NextAsync(path);
        var body = created.Body;
        Assert.StartsWith("urn:ngsi-ld:Notification:", (string?)body["id"], StringComparison.Ordinal);
        Assert.Equal("Notification", (string?)body["type"]);
        Assert.Equal(subscriptionId, (string?)body["subscriptionId"]);
        Assert.True(DateTimeOffset.TryParse((string?)body["notifiedAt"], out _));
        var entity = body["data"]!.AsArray().Single()!;
        Assert.Equal(id, (string?)entity["id"]);
        Assert.Equal("Sensor", (string?)entity["type"]);
        Assert.Equal(21, (double?)entity["temperature"]!["value"]);
        Assert.Null(entity["status"]);
        Assert.StartsWith("application/json", created.Headers["Content-Type"], StringComparison.Ordinal);
        Assert.Contains("rel=\"http://www.w3.org/ns/json-ld#context\"", created.Headers["Link"], StringComparison.Ordinal);
        Assert.Equal(_tenant, created.Headers["NGSILD-Tenant"]);
        Assert.Equal("s3cret", created.Headers["X-Auth"]);

        await SetTemperatureAsync(id, 25);
        var updated = await receiver.NextAsync(path);
        Assert.Equal(25, (double?)updated.Body["data"]![0]!["temperature"]!["value"]);

        // The receiver records before it answers: the counters follow the answer.
        var status = await EventuallyAsync(async () =>
        {
            var n = (await GetSubscriptionAsync(subscriptionId))["notification"]!;
            return (int?)n["timesSent"] == 2 ? n : null;
        });
        Assert.Equal("ok", (string?)status["status"]);
        Assert.NotNull(status["lastSuccess"]);
        Assert.NotNull(status["lastNotification"]);
    }

    [Fact]
    public async Task Ld_json_notifications_carry_the_context_in_the_body_and_compact_with_it()
    {
        var uri = receiver.NewEndpoint(out var path);
        using (var subscribed = await _client.NgPostAsync(
            "subscriptions",
            $$"""
            {"type": "Subscription", "entities": [{"type": "Sensor"}],
             "notification": {"format": "concise", "endpoint": {"uri": "{{uri}}", "accept": "application/ld+json"} },
             "@context": {"Sensor": "{{Ex}}Sensor", "temperature": "{{Ex}}temperature"} }
            """,
            _tenant,
            contentType: "application/ld+json"))
        {
            await subscribed.ExpectAsync(HttpStatusCode.Created);
        }

        var id = Http.NewId("Sensor");
        using (var created = await _client.NgPostAsync(
            "entities",
            $$"""{"id": "{{id}}", "type": "{{Ex}}Sensor", "{{Ex}}temperature": {"type": "Property", "value": 7} }""",
            _tenant))
        {
            await created.ExpectAsync(HttpStatusCode.Created);
        }

        var notification = await receiver.NextAsync(path);
        Assert.StartsWith("application/ld+json", notification.Headers["Content-Type"], StringComparison.Ordinal);
        Assert.False(notification.Headers.ContainsKey("Link"));
        Assert.NotNull(notification.Body["@context"]);
        var entity = notification.Body["data"]![0]!;
        Assert.Equal("Sensor", (string?)entity["type"]);
        Assert.Equal(7, (int?)entity["temperature"]);
    }

    [Fact]
    public async Task JsonldContext_chooses_the_context_notifications_are_compacted_with_and_linked_to()
    {
        using var hosted = await _client.NgPostAsync("jsonldContexts", $$"""{"@context": {"Kiosk": "{{Ex}}Kiosk", "stock": "{{Ex}}stock"} }""");
        await hosted.ExpectAsync(HttpStatusCode.Created);
        var contextUrl = hosted.Headers.Location!.ToString();
        var uri = receiver.NewEndpoint(out var path);
        await SubscribeAsync($$"""
            {"type": "Subscription", "entities": [{"type": "{{Ex}}Kiosk"}], "jsonldContext": "{{contextUrl}}",
             "notification": {"endpoint": {"uri": "{{uri}}"} } }
            """);

        var id = Http.NewId("Kiosk");
        using (var created = await _client.NgPostAsync("entities", $$"""{"id": "{{id}}", "type": "{{Ex}}Kiosk", "{{Ex}}stock": {"type": "Property", "value": 12} }""", _tenant))
        {
            await created.ExpectAsync(HttpStatusCode.Created);
        }

        var notification = await receiver.NextAsync(path);
        Assert.Contains(contextUrl, notification.Headers["Link"], StringComparison.Ordinal);
        var entity = notification.Body["data"]![0]!;
        Assert.Equal("Kiosk", (string?)entity["type"]);
        Assert.Equal(12, (int?)entity["stock"]!["value"]);
    }

    [Fact]
    public async Task Only_watched_attributes_with_a_different_value_notify()
    {
        var uri = receiver.NewEndpoint(out var path);
        var id = Http.NewId("Sensor");
        await CreateSensorAsync(id, 10);
        await SubscribeAsync(Sub(uri, extra: """, "watchedAttributes": ["temperature"]"""));

        // Same value again: not a change. Another attribute: not watched.
        await SetTemperatureAsync(id, 10);
        using (var status = await _client.NgPatchAsync($"entities/{id}/attrs", """{"status": {"type": "Property", "value": "alarm"}}""", _tenant))
        {
            await status.ExpectAsync(HttpStatusCode.NoContent);
        }

        await SetTemperatureAsync(id, 11);
        var notification = await receiver.NextAsync(path);
        Assert.Equal(11, (double?)notification.Body["data"]![0]!["temperature"]!["value"]);
        await receiver.ExpectNoneAsync(path, TimeSpan.FromMilliseconds(500));
    }

    [Fact]
    public async Task Q_filters_on_the_entity_after_the_change()
    {
        var uri = receiver.NewEndpoint(out var path);
        var id = Http.NewId("Sensor");
        await CreateSensorAsync(id, 10);
        await SubscribeAsync(Sub(uri, extra: """, "q": "temperature>30" """));
        await SetTemperatureAsync(id, 20);
        await SetTemperatureAsync(id, 35);
        var notification = await receiver.NextAsync(path);
        Assert.Equal(35, (double?)notification.Body["data"]![0]!["temperature"]!["value"]);
        await receiver.ExpectNoneAsync(path, TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public async Task Entity_deletion_notifies_id_type_and_deletedAt_with_the_entityDeleted_trigger()
    {
        var uri = receiver.NewEndpoint(out var path);
        var id = Http.NewId("Sensor");
        await CreateSensorAsync(id, 10);
        await SubscribeAsync(Sub(uri, extra: """, "notificationTrigger": ["entityDeleted"]"""));

        await SetTemperatureAsync(id, 12);
        using (var deleted = await _client.NgDeleteAsync($"entities/{id}", _tenant))
        {
            await deleted.ExpectAsync(HttpStatusCode.NoContent);
        }

        var notification = await receiver.NextAsync(path);
        var entity = notification.Body["data"]![0]!.AsObject();
        Assert.Equal(id, (string?)entity["id"]);
        Assert.Equal("Sensor", (string?)entity["type"]);
        Assert.NotNull(entity["deletedAt"]);
        Assert.Equal(["id", "type", "deletedAt"], entity.Select(m => m.Key));
        await receiver.ExpectNoneAsync(path, TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public async Task Attribute_deletion_notifies_the_ngsi_ld_null_and_showChanges_gives_previous_values()
    {
        var uri = receiver.NewEndpoint(out var path);
        var id = Http.NewId("Sensor");
        await CreateSensorAsync(id, 10);
        await SubscribeAsync(Sub(uri, extra: """, "notificationTrigger": ["attributeUpdated", "attributeDeleted"]""", notification: """, "showChanges": true"""));

        await SetTemperatureAsync(id, 14);
        var updated = await receiver.NextAsync(path);
        var temperature = updated.Body["data"]![0]!["temperature"]!;
        Assert.Equal(14, (double?)temperature["value"]);
        Assert.Equal(10, (double?)temperature["previousValue"]);

        using (var deleted = await _client.NgDeleteAsync($"entities/{id}/attrs/status", _tenant))
        {
            await deleted.ExpectAsync(HttpStatusCode.NoContent);
        }

        var removed = await receiver.NextAsync(path);
        var status = removed.Body["data"]![0]!["status"]!;
        Assert.Equal("urn:ngsi-ld:null", (string?)status["value"]);
        Assert.Equal("ok", (string?)status["previousValue"]);
    }

    [Fact]
    public async Task Notifications_of_one_subscription_arrive_in_write_order()
    {
        var uri = receiver.NewEndpoint(out var path);
        var id = Http.NewId("Sensor");
        await CreateSensorAsync(id, 0);
        await SubscribeAsync(Sub(uri, extra: """, "watchedAttributes": ["temperature"]"""));
        for (var i = 1; i <= 20; i++)
        {
            await SetTemperatureAsync(id, i);
        }

        for (var i = 1; i <= 20; i++)
        {
            var notification = await receiver.NextAsync(path);
            Assert.Equal(i, (double?)notification.Body["data"]![0]!["temperature"]!["value"]);
        }
    }

    [Fact]
    public async Task Throttling_drops_notifications_within_the_gap()
    {
        var uri = receiver.NewEndpoint(out var path);
        var id = Http.NewId("Sensor");
        await CreateSensorAsync(id, 0);
        await SubscribeAsync(Sub(uri, extra: """, "throttling": 30"""));
        await SetTemperatureAsync(id, 1);
        await SetTemperatureAsync(id, 2);
        await SetTemperatureAsync(id, 3);
        var first = await receiver.NextAsync(path);
        Assert.Equal(1, (double?)first.Body["data"]![0]!["temperature"]!["value"]);
        await receiver.ExpectNoneAsync(path, TimeSpan.FromMilliseconds(500));
    }

    [Fact]
    public async Task A_failing_endpoint_is_retried_then_counted_as_failed()
    {
        var uri = receiver.NewEndpoint(out var path);
        receiver.Behave(path, 500);
        var subscriptionId = await SubscribeAsync(Sub(uri));
        await CreateSensorAsync(Http.NewId("Sensor"), 1);

        // Three attempts (CityOS:Subscriptions:MaxAttempts), all reaching the receiver.
        for (var attempt = 0; attempt < 3; attempt++)
        {
            await receiver.NextAsync(path);
        }

        var notification = await EventuallyAsync(async () =>
        {
            var n = (await GetSubscriptionAsync(subscriptionId))["notification"]!;
            return (int?)n["timesFailed"] == 1 ? n : null;
        });
        Assert.Equal("failed", (string?)notification["status"]);
        Assert.Equal(1, (int?)notification["timesSent"]);
        Assert.NotNull(notification["lastFailure"]);
        Assert.Null(notification["lastSuccess"]);

        // A later success turns the status back to ok.
        receiver.Behave(path, 200);
        await CreateSensorAsync(Http.NewId("Sensor"), 2);
        await receiver.NextAsync(path);
        var recovered = await EventuallyAsync(async () =>
        {
            var n = (await GetSubscriptionAsync(subscriptionId))["notification"]!;
            return (string?)n["status"] == "ok" ? n : null;
        });
        Assert.Equal(2, (int?)recovered["timesSent"]);
    }

    [Fact]
    public async Task An_unreachable_endpoint_is_counted_as_failed_without_holding_up_another_subscription()
    {
        var deadId = await SubscribeAsync(Sub("http://127.0.0.1:1/nobody-listens"));
        var uri = receiver.NewEndpoint(out var path);
        await SubscribeAsync(Sub(uri));
        await CreateSensorAsync(Http.NewId("Sensor"), 3);
        await receiver.NextAsync(path, TimeSpan.FromSeconds(3));

        var dead = await EventuallyAsync(async () =>
        {
            var n = (await GetSubscriptionAsync(deadId))["notification"]!;
            return (int?)n["timesFailed"] == 1 ? n : null;
        });
        Assert.Equal("failed", (string?)dead["status"]);
    }

    [Fact]
    public async Task A_batch_write_sends_one_notification_holding_every_matching_entity()
    {
        var uri = receiver.NewEndpoint(out var path);
        await SubscribeAsync(Sub(uri));
        var ids = Enumerable.Range(0, 3).Select(_ => Http.NewId("Sensor")).ToArray();
        var batch = "[" + string.Join(", ", ids.Select(id => $$"""{"id": "{{id}}", "type": "Sensor", "temperature": {"type": "Property", "value": 5} }""")) + "]";
        using (var created = await _client.NgPostAsync("entityOperations/create", batch, _tenant))
        {
            await created.ExpectAsync(HttpStatusCode.Created);
        }

        var notification = await receiver.NextAsync(path);
        Assert.Equal(ids, notification.Body["data"]!.AsArray().Select(e => (string)e!["id"]!));
        await receiver.ExpectNoneAsync(path, TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public async Task Pausing_with_isActive_false_stops_notifications_and_resuming_restarts_them()
    {
        var uri = receiver.NewEndpoint(out var path);
        var id = Http.NewId("Sensor");
        await CreateSensorAsync(id, 0);
        var subscriptionId = await SubscribeAsync(Sub(uri));

        using (var pause = await _client.NgPatchAsync($"subscriptions/{subscriptionId}", """{"isActive": false}""", _tenant))
        {
            await pause.ExpectAsync(HttpStatusCode.NoContent);
        }

        Assert.Equal("paused", (string?)(await GetSubscriptionAsync(subscriptionId))["status"]);
        await SetTemperatureAsync(id, 1);
        await receiver.ExpectNoneAsync(path, TimeSpan.FromMilliseconds(500));

        using (var resume = await _client.NgPatchAsync($"subscriptions/{subscriptionId}", """{"isActive": true, "notification": {"format": "keyValues"}}""", _tenant))
        {
            await resume.ExpectAsync(HttpStatusCode.NoContent);
        }

        var read = await GetSubscriptionAsync(subscriptionId);
        Assert.Equal("active", (string?)read["status"]);
        Assert.Equal(uri, (string?)read["notification"]!["endpoint"]!["uri"]);
        await SetTemperatureAsync(id, 2);
        var notification = await receiver.NextAsync(path);
        Assert.Equal(2, (double?)notification.Body["data"]![0]!["temperature"]);
    }

    [Fact]
    public async Task An_expired_subscription_notifies_nothing_and_says_expired_until_a_later_expiresAt_revives_it()
    {
        var uri = receiver.NewEndpoint(out var path);
        var expiresAt = DateTimeOffset.UtcNow.AddSeconds(2).ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture);
        var subscriptionId = await SubscribeAsync(Sub(uri, extra: $", \"expiresAt\": \"{expiresAt}\""));
        await Task.Delay(TimeSpan.FromSeconds(2.5));

        Assert.Equal("expired", (string?)(await GetSubscriptionAsync(subscriptionId))["status"]);
        await CreateSensorAsync(Http.NewId("Sensor"), 1);
        await receiver.ExpectNoneAsync(path, TimeSpan.FromMilliseconds(500));

        using (var revive = await _client.NgPatchAsync($"subscriptions/{subscriptionId}", """{"expiresAt": "2099-01-01T00:00:00Z"}""", _tenant))
        {
            await revive.ExpectAsync(HttpStatusCode.NoContent);
        }

        Assert.Equal("active", (string?)(await GetSubscriptionAsync(subscriptionId))["status"]);
        await CreateSensorAsync(Http.NewId("Sensor"), 2);
        await receiver.NextAsync(path);
    }

    [Fact]
    public async Task Patching_with_invalid_members_is_400_and_an_unknown_subscription_404()
    {
        var uri = receiver.NewEndpoint(out _);
        var subscriptionId = await SubscribeAsync(Sub(uri));
        using var invalid = await _client.NgPatchAsync($"subscriptions/{subscriptionId}", """{"throttling": -1}""", _tenant);
        await invalid.ExpectAsync(HttpStatusCode.BadRequest, "BadRequestData");
        using var past = await _client.NgPatchAsync($"subscriptions/{subscriptionId}", """{"expiresAt": "2000-01-01T00:00:00Z"}""", _tenant);
        await past.ExpectAsync(HttpStatusCode.BadRequest, "BadRequestData");
        using var unknown = await _client.NgPatchAsync("subscriptions/urn:ngsi-ld:Subscription:none", """{"isActive": false}""", _tenant);
        await unknown.ExpectAsync(HttpStatusCode.NotFound, "ResourceNotFound");
    }

    [Fact]
    public async Task A_slow_endpoint_does_not_delay_another_subscription_or_the_writes()
    {
        var slowUri = receiver.NewEndpoint(out var slowPath);
        receiver.Behave(slowPath, 200, TimeSpan.FromSeconds(5));
        var fastUri = receiver.NewEndpoint(out var fastPath);
        await SubscribeAsync(Sub(slowUri));
        await SubscribeAsync(Sub(fastUri));

        var clock = Stopwatch.StartNew();
        for (var i = 0; i < 3; i++)
        {
            await CreateSensorAsync(Http.NewId("Sensor"), i);
        }

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"writes took {clock.Elapsed}");
        for (var i = 0; i < 3; i++)
        {
            await receiver.NextAsync(fastPath, TimeSpan.FromSeconds(3));
        }

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(4), $"the fast subscription waited {clock.Elapsed}");
        // The slow one still gets its notification, once its endpoint answers.
        await receiver.NextAsync(slowPath, TimeSpan.FromSeconds(15));
    }

    [Fact]
    public async Task Subscriptions_and_their_notifications_stay_in_their_tenant()
    {
        var uri = receiver.NewEndpoint(out var path);
        await SubscribeAsync(Sub(uri));
        await CreateSensorAsync(Http.NewId("Sensor"), 1, tenant: "other" + _tenant);
        await receiver.ExpectNoneAsync(path, TimeSpan.FromMilliseconds(500));
    }

    [Fact]
    public async Task Mqtt_endpoints_get_the_notification_with_its_metadata_on_the_topic()
    {
        var topic = "cityos/test/" + Guid.NewGuid().ToString("N");
        await using var subscriber = await MqttSubscriber.StartAsync(topic);
        var broker = MqttSubscriber.Broker;
        var subscriptionId = await SubscribeAsync(Sub(
            $"mqtt://{broker.Host}:{broker.Port}/{topic}",
            notification: ""","format": "keyValues" """).Replace(
                "\"uri\": ",
                "\"notifierInfo\": [{\"key\": \"MQTT-QoS\", \"value\": \"1\"}], \"receiverInfo\": [{\"key\": \"X-Site\", \"value\": \"depot\"}], \"uri\": ",
                StringComparison.Ordinal));
        var id = Http.NewId("Sensor");
        await CreateSensorAsync(id, 18.5);

        var message = await subscriber.NextAsync(TimeSpan.FromSeconds(10));
        var metadata = message["metadata"]!;
        Assert.Equal("application/json", (string?)metadata["Content-Type"]);
        Assert.Contains("json-ld#context", (string?)metadata["Link"], StringComparison.Ordinal);
        Assert.Equal(_tenant, (string?)metadata["NGSILD-Tenant"]);
        Assert.Equal("depot", (string?)metadata["X-Site"]);
        var body = message["body"]!;
        Assert.Equal("Notification", (string?)body["type"]);
        Assert.Equal(subscriptionId, (string?)body["subscriptionId"]);
        Assert.Equal(id, (string?)body["data"]![0]!["id"]);
        Assert.Equal(18.5, (double?)body["data"]![0]!["temperature"]);

        var status = await EventuallyAsync(async () =>
        {
            var n = (await GetSubscriptionAsync(subscriptionId))["notification"]!;
            return (int?)n["timesSent"] == 1 ? n : null;
        });
        Assert.Equal("ok", (string?)status["status"]);
    }

    [Fact]
    public async Task Periodic_subscriptions_send_every_matching_entity_each_interval()
    {
        var uri = receiver.NewEndpoint(out var path);
        var hot = Http.NewId("Sensor");
        await CreateSensorAsync(hot, 40);
        await CreateSensorAsync(Http.NewId("Sensor"), 10);
        var subscriptionId = await SubscribeAsync(Sub(uri, extra: """, "timeInterval": 1, "q": "temperature>30" """, notification: """, "format": "keyValues" """));

        for (var round = 0; round < 2; round++)
        {
            var notification = await receiver.NextAsync(path, TimeSpan.FromSeconds(5));
            Assert.Equal(subscriptionId, (string?)notification.Body["subscriptionId"]);
            var entity = Assert.Single(notification.Body["data"]!.AsArray())!;
            Assert.Equal(hot, (string?)entity["id"]);
            Assert.Equal(40, (double?)entity["temperature"]);
        }

        using (var deleted = await _client.NgDeleteAsync($"subscriptions/{subscriptionId}", _tenant))
        {
            await deleted.ExpectAsync(HttpStatusCode.NoContent);
        }

        // One may have been on its way; after that, nothing.
        await receiver.DrainAsync(path, TimeSpan.FromMilliseconds(300));
        await receiver.ExpectNoneAsync(path, TimeSpan.FromSeconds(2));
    }

    private static async Task<T> EventuallyAsync<T>(Func<Task<T?>> probe)
        where T : class
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            if (await probe() is { } value)
            {
                return value;
            }

            Assert.True(DateTime.UtcNow < deadline, "condition not reached within 10 s");
            await Task.Delay(100);
        }
    }
}

[Collection(SharedSqliteServer.Name)]
public sealed class SubscriptionTestsOnSqlite(SqliteServer server, NotificationReceiver receiver)
    : SubscriptionTests(server, receiver), IClassFixture<NotificationReceiver>;

[Collection(SharedPostgresServer.Name)]
public sealed class SubscriptionTestsOnPostgres(PostgresServer server, NotificationReceiver receiver)
    : SubscriptionTests(server, receiver), IClassFixture<NotificationReceiver>;
