using System.Text.Json.Nodes;
using CityOS.Broker.Storage;
using CityOS.NgsiLd.Geo;
using CityOS.NgsiLd.JsonLd;
using CityOS.NgsiLd.Query;
using Npgsql;

namespace CityOS.Storage.Postgres.Tests;

/// <summary>
/// The q prefilter (vals column, migration 2) and the geo driver: the SQL narrows the candidates, and the
/// answers stay exactly what <see cref="EntityQuery.Matches"/> accepts.
/// </summary>
public sealed class PostgresQPrefilterTests : PostgresStoreTest
{
    private const string Ns = "https://uri.etsi.org/ngsi-ld/default-context/";
    private const string Thing = Ns + "Thing";
    private const string Other = Ns + "Other";

    public static TheoryData<string> TrickyQueries() =>
    [
        "t>20", "t>=25", "t<5", "t<=0.0000000001", "t==25", "t!=25", "t==1..5", "t==20..30", "t==25,40", "t==20.0",
        "t==0.1", "t==\"25\"", "t>\"2\"", "t==true", "t", "!t", "!t|t>30", "t>30;!s", "(t>20|t<3);s",
        "t.observedAt>2020-01-01T00:00:00Z", "t==-3", "t<-2.5", "t>1e300", "t<-1e300",
        "s==\"abc\"", "s!=\"abc\"", "s>\"abc\"", "s<\"abd\"", "s==\"abc\"..\"abz\"", "s>\"z\"", "s<\"A\"", "s>\"é\"",
        "s~=\"ab.*\"", "s!~=\"ab.*\"", "s==\"abc\",\"zzz\"", "s==\"zzz\"",
        "b==true", "b==false", "b!=true",
        "r==\"urn:x\"", "r==urn:x", "r!=urn:x", "lr==urn:y", "r>\"urn:a\"",
        "name==\"bonjour\"", "name[fr]==\"bonjour\"", "name>\"h\"", "name==\"hi\"",
        "color==\"red\"", "color==\"https://uri.etsi.org/ngsi-ld/default-context/red\"",
        "d==2026-01-01T00:00:00Z", "d>2025-12-31T23:00:00Z", "d==\"2026-01-01T00:00:00Z\"", "d<\"2026\"",
        "j[a]==1", "j==1", "lst==\"zzz\"", "lst>5", "nested==25", "n==0", "t>20;s==\"abc\"", "t>35|s==\"abd\"",
        "s<\"ab\"", "s>\"a\"", "s==\"a\"", "s==\"a\\u0000z\"", "s<\"\"", "s<=\"\"", "s>=\"\"", "s==\"\"",
    ];

    [Theory]
    [MemberData(nameof(TrickyQueries))]
    public async Task Answers_equal_the_evaluator_for_tricky_terms(string text)
    {
        var entities = TrickyEntities();
        await InsertAllAsync(entities);
        var q = QParser.Parse(text, LdContext.Core);
        var expected = entities.Where(q.Matches).Select(Id).ToList();

        foreach (var type in new TypeExpression?[] { null, new TypeName(Thing) })
        {
            var query = new EntityQuery { Q = q, Type = type, Limit = 1000, Count = true };
            var counted = await Store.QueryEntitiesAsync("", query, None);
            var paged = await Store.QueryEntitiesAsync("", query with { Count = false, Limit = 2, Offset = 1 }, None);

            var want = type is null ? expected : expected.Where(id => entities.Single(e => Id(e) == id)["type"]![0]!.GetValue<string>() == Thing).ToList();
            Assert.Equal(want, counted.Entities.Select(Id));
            Assert.Equal(want.Count, counted.TotalCount);
            Assert.Equal(want.Skip(1).Take(2), paged.Entities.Select(Id));
        }
    }

    [Fact]
    public async Task Numeric_and_string_terms_are_checked_in_the_sql()
    {
        await InsertAllAsync(TrickyEntities());

        var range = await ExplainAsync("t>35;relativeHumidity<0.5", new TypeName(Thing));
        var equality = await ExplainAsync("s==\"abc\"|b==true", null);
        var negation = await ExplainAsync("s!=\"abc\"", null);

        Assert.Contains("jsonb_path_exists", range, StringComparison.Ordinal);
        Assert.Contains("entity_types", range, StringComparison.Ordinal);
        Assert.Contains("vals @>", equality, StringComparison.Ordinal);
        Assert.DoesNotContain("vals", negation, StringComparison.Ordinal);
        Assert.Contains("attr_names @>", negation, StringComparison.Ordinal);
    }

    [Fact]
    public async Task String_equality_on_a_large_tenant_uses_the_values_index()
    {
        await Store.WriteAsync("", true, async (s, ct) =>
        {
            for (var i = 0; i < 3000; i++)
            {
                await s.InsertAsync(Entity($"urn:{i:D4}", Thing, ("s", $"v{i}"), ("t", i)), ct);
            }

            return true;
        }, None);
        await Database.ExecuteAsync("ANALYZE");

        var plan = await ExplainAsync("s==\"v1234\"", null);
        var page = await Store.QueryEntitiesAsync("", new EntityQuery { Q = QParser.Parse("s==\"v1234\"", LdContext.Core) }, None);

        Assert.Contains("entities_by_vals", plan, StringComparison.Ordinal);
        Assert.Equal(["urn:1234"], page.Entities.Select(Id));
    }

    [Fact]
    public async Task Migration_2_back_fills_the_values_of_rows_stored_before_it()
    {
        var entities = TrickyEntities();
        await InsertAllAsync(entities);
        await Store.DisposeAsync();
        NpgsqlConnection.ClearAllPools();

        // Back to schema version 1, with its rows.
        await Database.ExecuteAsync("""
            DROP INDEX entities_by_vals; ALTER TABLE entities DROP COLUMN vals;
            DELETE FROM cityos_migrations WHERE version = 2;
            """);
        Store = new PostgresEntityStore(Database.ConnectionString);
        await Store.InitializeAsync(None);

        var q = QParser.Parse("t>20|s==\"abc\"", LdContext.Core);
        var page = await Store.QueryEntitiesAsync("", new EntityQuery { Q = q, Limit = 1000 }, None);

        Assert.Equal(1, await ScalarAsync("SELECT count(*) FROM cityos_migrations WHERE version = 2"));
        Assert.Equal(entities.Where(q.Matches).Select(Id), page.Entities.Select(Id));
        Assert.NotEmpty(page.Entities);
    }

    [Fact]
    public async Task A_geo_query_drives_from_the_boxes_before_any_statistics_exist()
    {
        await Store.WriteAsync("", true, async (s, ct) =>
        {
            for (var i = 0; i < 3000; i++)
            {
                var entity = Entity($"urn:{i:D4}", i % 2 == 0 ? Thing : Other, ("t", i % 50));
                entity[Location] = new JsonArray(new JsonObject
                {
                    ["type"] = "GeoProperty",
                    ["value"] = new JsonObject { ["type"] = "Point", ["coordinates"] = new JsonArray((i % 100) * 0.01, (i / 100) * 0.01) },
                });
                await s.InsertAsync(entity, ct);
            }

            return true;
        }, None);

        // No ANALYZE: the tables have never been analyzed, as right after a bulk load.
        var geo = GeoQuery.Parse("within", "Polygon", "[[[0.095,0.095],[0.205,0.095],[0.205,0.205],[0.095,0.205],[0.095,0.095]]]", null, LdContext.Core);
        var query = new EntityQuery { Geo = geo, Type = new TypeName(Thing), Q = QParser.Parse("t<40", LdContext.Core), Count = true, Limit = 1000 };
        var plan = await Store.ExplainQueryAsync("", query, None);
        var page = await Store.QueryEntitiesAsync("", query, None);

        Assert.Contains("entity_geo_by_box", plan, StringComparison.Ordinal);
        Assert.Contains("entities_pkey", plan, StringComparison.Ordinal);
        Assert.DoesNotContain("Seq Scan on entities", plan, StringComparison.Ordinal);

        // x and y in 0.10…0.20: i = 100y + x for x, y in 10…20, even i only, t = i % 50 < 40.
        var expected = (from y in Enumerable.Range(10, 11)
                        from x in Enumerable.Range(10, 11)
                        let i = (100 * y) + x
                        where i % 2 == 0 && i % 50 < 40
                        orderby i
                        select $"urn:{i:D4}").ToList();
        Assert.Equal(expected, page.Entities.Select(Id));
        Assert.Equal(expected.Count, page.TotalCount);

        // Without a count the box's list is looked up in slices: pages past the first slice stay exact.
        foreach (var (offset, limit) in new[] { (0, 5), (40, 10), (45, 20), (0, 1000) })
        {
            var paged = await Store.QueryEntitiesAsync("", query with { Count = false, Offset = offset, Limit = limit }, None);
            Assert.Equal(expected.Skip(offset).Take(limit), paged.Entities.Select(Id));
        }
    }

    [Fact]
    public async Task A_box_holding_more_entities_than_a_list_takes_keeps_the_subquery_form_and_is_exact()
    {
        // Written in SQL: ten thousand entities through the store would take most of a minute here.
        var count = Internal.QuerySql.MaxGeoDriverEntities + 200;
        await Store.WriteAsync("", true, (s, ct) => s.InsertAsync(Entity("urn:first", Thing, ("t", 1)), ct), None);
        await Database.ExecuteAsync($$"""
            INSERT INTO entities (tenant, id, types, attr_names, attrs, doc, vals)
            SELECT '', 'urn:' || lpad(i::text, 6, '0'), ARRAY['{{Thing}}'], ARRAY['{{Ns}}t', '{{Location}}'],
                   '[["{{Ns}}t", "Property"], ["{{Location}}", "GeoProperty"]]',
                   json_build_object('id', 'urn:' || lpad(i::text, 6, '0'), 'type', json_build_array('{{Thing}}'),
                       '{{Ns}}t', json_build_array(json_build_object('type', 'Property', 'value', i % 50)),
                       '{{Location}}', json_build_array(json_build_object('type', 'GeoProperty', 'value',
                           json_build_object('type', 'Point', 'coordinates', json_build_array((i % 100) * 0.01, (i / 100) * 0.001))))),
                   jsonb_build_object('{{Ns}}t', jsonb_build_array(i % 50), '{{Location}}', '[]'::jsonb)
            FROM generate_series(1, {{count}}) i;
            INSERT INTO entity_types (tenant, type, entity) SELECT '', '{{Thing}}', seq FROM entities WHERE id <> 'urn:first';
            INSERT INTO entity_geo (tenant, entity, prop, box)
            SELECT '', seq, '{{Location}}', public.ST_MakeEnvelope(x, y, x, y)
            FROM (SELECT seq, (doc->'{{Location}}'->0->'value'->'coordinates'->>0)::float8 AS x,
                         (doc->'{{Location}}'->0->'value'->'coordinates'->>1)::float8 AS y FROM entities WHERE id <> 'urn:first') p;
            ANALYZE;
            """);
        var geo = GeoQuery.Parse("within", "Polygon", "[[[-1,-1],[2,-1],[2,2],[-1,2],[-1,-1]]]", null, LdContext.Core);
        var query = new EntityQuery { Geo = geo, Q = QParser.Parse("t==7", LdContext.Core), Offset = 3, Limit = 5 };

        var plan = await Store.ExplainQueryAsync("", query, None);
        var page = await Store.QueryEntitiesAsync("", query, None);

        Assert.DoesNotContain("unnest", plan, StringComparison.Ordinal);
        Assert.Equal(new[] { 157, 207, 257, 307, 357 }.Select(i => $"urn:{i:D6}"), page.Entities.Select(Id));
    }

    private Task<string> ExplainAsync(string q, TypeExpression? type) =>
        Store.ExplainQueryAsync("", new EntityQuery { Q = QParser.Parse(q, LdContext.Core), Type = type }, None);

    private Task<bool> InsertAllAsync(List<JsonObject> entities) =>
        Store.WriteAsync("", true, async (s, ct) =>
        {
            foreach (var entity in entities)
            {
                await s.InsertAsync(entity.DeepClone().AsObject(), ct);
            }

            return true;
        }, None);

    private async Task<long> ScalarAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(Database.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static string Id(JsonObject entity) => (string)entity["id"]!;

    /// <summary>Entities where a naive translation of q to SQL would differ from the evaluator.</summary>
    private static List<JsonObject> TrickyEntities()
    {
        static JsonObject Instance(string type, string member, JsonNode? content, string? datasetId = null)
        {
            var instance = new JsonObject { ["type"] = type, [member] = content };
            if (datasetId is not null)
            {
                instance["datasetId"] = datasetId;
            }

            return instance;
        }

        static JsonObject With(JsonObject entity, string attribute, params JsonObject[] instances)
        {
            entity[Ns + attribute] = new JsonArray(instances);
            return entity;
        }

        var p = "Property";
        return
        [
            With(With(Entity("urn:e01", Thing, ("s", "abc"), ("b", true)), "t", Instance(p, "value", 25)), "relativeHumidity", Instance(p, "value", 0.3)),
            Entity("urn:e02", Thing, ("t", "25"), ("s", "abd")),
            Entity("urn:e03", Other, ("s", new JsonArray("abc", "zzz"))),
            With(Entity("urn:e04", Thing), "t", Instance(p, "value", 5), Instance(p, "value", 40, "urn:ds:1")),
            Entity("urn:e05", Thing, ("t", JsonNode.Parse("20.0")), ("n", JsonNode.Parse("-0"))),
            With(With(Entity("urn:e06", Thing), "r", Instance("Relationship", "object", "urn:x")), "lr",
                Instance("ListRelationship", "objectList", new JsonArray(new JsonObject { ["object"] = "urn:y" }))),
            With(Entity("urn:e07", Other), "name", Instance("LanguageProperty", "languageMap", new JsonObject { ["en"] = new JsonArray("hi", "hello"), ["fr"] = "bonjour" })),
            Entity("urn:e08", Thing, ("t", JsonNode.Parse("1e-10"))),
            Entity("urn:e09", Thing, ("t", JsonNode.Parse("0.10000000000000001")), ("s", "ABC")),
            Entity("urn:e10", Thing, ("s", "é"), ("b", false), ("t", -3)),
            Entity("urn:e11", Thing, ("s", "😀"), ("t", JsonNode.Parse("1e400"))),
            With(Entity("urn:e12", Thing, ("nested", new JsonArray(new JsonArray(25)))), "j", Instance("JsonProperty", "json", new JsonObject { ["a"] = 1 })),
            With(Entity("urn:e13", Other), "color", Instance("VocabProperty", "vocab", Ns + "red")),
            Entity("urn:e14", Thing, ("d", "2026-01-01T02:00:00+02:00")),
            Entity("urn:e15", Thing, ("d", new JsonObject { ["@type"] = "DateTime", ["@value"] = "2026-01-01T00:00:00Z" }), ("t", new JsonArray(1, 30))),
            With(Entity("urn:e16", Thing, ("lst", new JsonArray("zzz"))), "lst2", Instance("ListProperty", "valueList", new JsonArray(4, 6))),
            With(Entity("urn:e17", Thing, ("t", 26)), "t", Instance(p, "value", 26), Instance(p, "value", "x", "urn:ds:2")),
            With(Entity("urn:e18", Thing), "t", new JsonObject { ["type"] = p, ["value"] = 31, ["observedAt"] = "2026-01-01T00:00:00Z" }),
            With(Entity("urn:e19", Thing), "lst", Instance("ListProperty", "valueList", new JsonArray(4, 6, "zzz"))),
            Entity("urn:e20", Thing, ("t", null), ("s", "")),
            Entity("urn:e21", Thing, ("s", "a\0z"), ("t", 21)),
            Entity("urn:e22", Thing, ("s", "\0")),
        ];
    }

    // Attribute names here are short; they live in the default vocabulary.
    private static new JsonObject Entity(string id, string type, params (string Attribute, JsonNode? Value)[] properties) =>
        PostgresStoreTest.Entity(id, [type], [.. properties.Select(p => (Ns + p.Attribute, p.Value))]);
}
