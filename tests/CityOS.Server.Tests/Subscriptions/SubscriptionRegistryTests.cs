using System.Text.Json.Nodes;
using CityOS.Broker.Subscriptions;
using CityOS.NgsiLd.JsonLd;

namespace CityOS.Server.Tests.Subscriptions;

/// <summary>The in-memory subscription set: per tenant, indexed by the entity types the subscriptions name.</summary>
public sealed class SubscriptionRegistryTests
{
    private const string Ex = "https://example.org/ns/";
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
    private static readonly JsonObject ContextDocument = new() { ["@vocab"] = Ex };
    private static readonly LdContext Context = LdContext.Create(ContextDocument.DeepClone());

    private static ActiveSubscription Active(string id, string members, string tenant = "")
    {
        var subscription = SubscriptionParser.Parse(
            tenant,
            (JsonObject)JsonNode.Parse($$$"""{"id": "{{{id}}}", "type": "Subscription"{{{members}}}, "notification": {"endpoint": {"uri": "http://r.example/n"} } }""")!,
            ContextDocument.DeepClone(),
            Context,
            Now,
            Now);
        return new ActiveSubscription(subscription, Context, Context);
    }

    [Fact]
    public void Candidates_are_the_subscriptions_naming_a_type_of_the_entity_plus_those_without_plain_types()
    {
        var registry = new SubscriptionRegistry(null!, null!);
        registry.Put(Active("urn:s:sensor", """, "entities": [{"type": "Sensor"}]"""));
        registry.Put(Active("urn:s:camera", """, "entities": [{"type": "Camera"}, {"type": "Sensor", "id": "urn:x"}]"""));
        registry.Put(Active("urn:s:lamp", """, "entities": [{"type": "Lamp"}]"""));
        registry.Put(Active("urn:s:any", """, "watchedAttributes": ["on"]"""));
        registry.Put(Active("urn:s:expression", """, "entities": [{"type": "Lamp|Pole"}]"""));
        registry.Put(Active("urn:s:elsewhere", """, "entities": [{"type": "Sensor"}]""", tenant: "other"));

        static string[] Ids(IReadOnlyList<ActiveSubscription> list) => [.. list.Select(a => a.Subscription.Id).Order(StringComparer.Ordinal)];
        Assert.Equal(["urn:s:any", "urn:s:camera", "urn:s:expression", "urn:s:sensor"], Ids(registry.Candidates("", "urn:y", new JsonArray(Ex + "Sensor"))));
        Assert.Equal(["urn:s:any", "urn:s:camera", "urn:s:expression", "urn:s:lamp", "urn:s:sensor"], Ids(registry.Candidates("", "urn:y", new JsonArray(Ex + "Sensor", Ex + "Lamp"))));
        Assert.Equal(["urn:s:any", "urn:s:expression"], Ids(registry.Candidates("", "urn:y", new JsonArray(Ex + "Bin"))));
        Assert.Equal(["urn:s:elsewhere"], Ids(registry.Candidates("other", "urn:y", new JsonArray(Ex + "Sensor"))));
        Assert.Empty(registry.Candidates("nobody", "urn:y", new JsonArray(Ex + "Sensor")));

        // Subscriptions naming only ids are found by the id, whatever the type.
        registry.Put(Active("urn:s:one", """, "entities": [{"type": "Sensor", "id": "urn:one"}]"""));
        Assert.DoesNotContain("urn:s:one", Ids(registry.Candidates("", "urn:y", new JsonArray(Ex + "Sensor"))));
        Assert.Contains("urn:s:one", Ids(registry.Candidates("", "urn:one", new JsonArray(Ex + "Sensor"))));
        Assert.Equal(["urn:s:any", "urn:s:expression", "urn:s:one"], Ids(registry.Candidates("", "urn:one", new JsonArray(Ex + "Bin"))));

        registry.Remove("", "urn:s:sensor");
        Assert.DoesNotContain("urn:s:sensor", Ids(registry.Candidates("", "urn:y", new JsonArray(Ex + "Sensor"))));
    }
}
