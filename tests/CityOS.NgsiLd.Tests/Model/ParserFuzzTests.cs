using System.Text.Json.Nodes;
using CityOS.NgsiLd.Errors;
using CityOS.NgsiLd.Model;
using static CityOS.NgsiLd.Tests.Model.ModelTestData;

namespace CityOS.NgsiLd.Tests.Model;

public sealed class ParserFuzzTests
{
    private static readonly string[] Keys =
    [
        "type", "value", "object", "objectList", "languageMap", "vocab", "json", "valueList", "datasetId", "observedAt",
        "unitCode", "valueType", "objectType", "coordinates", "@none", "en", "speed", "sub", "id", "scope", "@context",
        "createdAt", "ex:x", "bad name", "instanceId",
    ];

    private static readonly string[] Strings =
    [
        "Property", "Relationship", "GeoProperty", "LanguageProperty", "VocabProperty", "JsonProperty", "ListProperty",
        "ListRelationship", "Point", "urn:ngsi-ld:null", "urn:a:1", "@none", "2026-01-01T00:00:00Z", "/a/b", "", "x y",
        "<script>", "Car",
    ];

    [Fact]
    public void Random_shapes_give_bad_request_data_or_a_valid_entity_never_another_exception()
    {
        var random = new Random(20261123);
        var stored = Timestamps.Stamp(ParseEntity("""{"id":"urn:a:1","type":"T","speed":1,"sub":{"object":"urn:b:1"}}"""), DateTimeOffset.UnixEpoch);
        var accepted = 0;
        for (var i = 0; i < 3000; i++)
        {
            var body = new JsonObject { ["id"] = "urn:a:1", ["type"] = "T" };
            var members = random.Next(1, 4);
            for (var m = 0; m < members; m++)
            {
                body[Keys[random.Next(Keys.Length)]] = RandomNode(random, 0);
            }

            foreach (var kind in new[] { PayloadKind.Entity, PayloadKind.Fragment })
            {
                foreach (var keyValues in new[] { false, true })
                {
                    JsonObject parsed;
                    try
                    {
                        parsed = EntityParser.Parse(body, Ctx, kind, keyValues);
                    }
                    catch (NgsiLdException ex)
                    {
                        Assert.Equal(ErrorType.BadRequestData, ex.Type);
                        continue;
                    }

                    accepted++;
                    foreach (var representation in new[] { Representation.Normalized, Representation.Concise, Representation.KeyValues })
                    {
                        EntityRenderer.Render(parsed, Ctx, new RenderOptions { Representation = representation, SysAttrs = true, Lang = "en" });
                    }

                    if (kind == PayloadKind.Fragment)
                    {
                        EntityMerge.Merge(stored, parsed, DateTimeOffset.UnixEpoch);
                        EntityMerge.Append(stored, parsed, noOverwrite: false, DateTimeOffset.UnixEpoch);
                        EntityMerge.UpdateExisting(stored, parsed, DateTimeOffset.UnixEpoch);
                    }
                }
            }
        }

        // The shapes must also reach the renderer and the merge code, not only the error paths.
        Assert.True(accepted > 500, $"only {accepted} bodies were accepted");
    }

    private static JsonNode? RandomNode(Random random, int depth)
    {
        var pick = random.Next(depth > 3 ? 5 : 8);
        switch (pick)
        {
            case 0:
                return null;
            case 1:
                return random.Next(-5, 100);
            case 2:
                return random.Next(2) == 0;
            case 3:
            case 4:
                return Strings[random.Next(Strings.Length)];
            case 5:
            case 6:
                var obj = new JsonObject();
                var count = random.Next(0, 4);
                for (var i = 0; i < count; i++)
                {
                    obj[Keys[random.Next(Keys.Length)]] = RandomNode(random, depth + 1);
                }

                return obj;
            default:
                var array = new JsonArray();
                var length = random.Next(0, 3);
                for (var i = 0; i < length; i++)
                {
                    array.Add(RandomNode(random, depth + 1));
                }

                return array;
        }
    }
}
