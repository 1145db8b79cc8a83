using System.Text.Json.Nodes;
using CityOS.NgsiLd.Errors;
using CityOS.NgsiLd.JsonLd;
using CityOS.NgsiLd.Model;

namespace CityOS.NgsiLd.Tests.Model;

internal static class ModelTestData
{
    public const string Vocab = "https://uri.etsi.org/ngsi-ld/default-context/";

    public static LdContext Ctx => LdContext.Core;

    public static JsonObject J(string json) => JsonNode.Parse(json)!.AsObject();

    public static JsonObject ParseEntity(string json, bool keyValues = false) =>
        EntityParser.Parse(J(json), Ctx, PayloadKind.Entity, keyValues);

    public static JsonObject ParseFragment(string json, bool keyValues = false) =>
        EntityParser.Parse(J(json), Ctx, PayloadKind.Fragment, keyValues);

    public static NgsiLdException BadEntity(string json, PayloadKind kind = PayloadKind.Entity)
    {
        var ex = Assert.Throws<NgsiLdException>(() => EntityParser.Parse(J(json), Ctx, kind));
        Assert.Equal(ErrorType.BadRequestData, ex.Type);
        return ex;
    }

    public static JsonObject Instance(JsonObject entity, string shortName, int index = 0) =>
        entity[Vocab + shortName]!.AsArray()[index]!.AsObject();

    public static void AssertJson(string expected, JsonNode? actual) =>
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), actual), $"expected {expected}\nactual   {actual?.ToJsonString()}");
}
